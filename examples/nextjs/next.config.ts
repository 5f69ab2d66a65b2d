import type { NextConfig } from "next";

const config: NextConfig = {
  // The example's own folder is the project root (the repository around it is Rust).
  outputFileTracingRoot: __dirname,
};

export default config;
