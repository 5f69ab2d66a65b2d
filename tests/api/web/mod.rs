//! The web layer as clients meet it: the HTTP conventions, the shipped reverse proxy, the web
//! client in a real browser.

mod browser;
mod browsers;
mod conventions;
mod gateway;
mod phone;
mod proxy;
