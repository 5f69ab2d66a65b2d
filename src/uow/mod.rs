//! The unit of work: one transaction and the side effects it records, written when it commits.
//!
//! Every audit event ([`AuditAction`]), every queued mail ([`Notice`]) and every webhook event
//! ([`UserEvent`]) of the service goes through here, and only here are `audit_events`, `outbox`
//! and `webhook_deliveries` inserted into. A flow begins one, runs its feature's statements on
//! [`UnitOfWork::tx`], records what happened, and commits: the events, the mail and the
//! webhook deliveries are written in the same transaction as the change (a change that rolls
//! back leaves none of them) and the background senders are woken. A notice the contract wants
//! mailed before the answer is tried by the request itself, once its connection is back in the
//! pool ([`UnitOfWork::commit_for_answer`], [`Committed::deliver`]). Who asked (client IP, request id) is the
//! [`Context`] it was begun with, passed explicitly from the request.

pub mod signal;
mod sql;

use crate::app::AppState;
use crate::config::WebhookSettings;
use crate::context::Context;
use crate::db::pool::{Connection, Manager, Tx};
use crate::domain::{AuditAction, Email, UserEvent};
use crate::error::Error;
use crate::mail::{Delivery, Notice};
use r2d2::PooledConnection;
use serde_json::Value;

/// Whom an audit event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// No account (a system event).
    None,
    /// Account `id`. The event is dropped if the account is gone by then.
    Account(i64),
    /// The account of an address, if there is one (a failed login names an email that may
    /// belong to nobody: then nothing is recorded).
    Email(Email),
}

/// One audit event, written at commit.
#[derive(Debug, Clone)]
pub struct Event {
    /// Whom it is about.
    pub subject: Subject,
    /// Who acted: the account itself, an administrator, or `None` (the system, a stranger).
    pub actor: Option<i64>,
    /// What happened.
    pub action: AuditAction,
    /// Never a secret.
    pub details: Option<Value>,
    /// The request it belongs to, when not the unit of work's own (the worker records the
    /// events of queued requests with the context they were queued with).
    pub context: Option<Context>,
}

/// See the module's documentation.
pub struct UnitOfWork<'c> {
    tx: Tx<'c>,
    context: Context,
    events: Vec<Event>,
    notices: Vec<Notice>,
    published: Vec<UserEvent>,
}

impl<'c> UnitOfWork<'c> {
    /// Begins a transaction on `connection` for a request from `context`.
    pub fn begin(connection: &'c mut Connection, context: &Context) -> Result<Self, Error> {
        Ok(UnitOfWork {
            tx: connection.begin()?,
            context: context.clone(),
            events: Vec::new(),
            notices: Vec::new(),
            published: Vec::new(),
        })
    }

    /// The transaction, for the feature's statements.
    pub fn tx(&mut self) -> &mut Tx<'c> {
        &mut self.tx
    }

    /// Records `action` about `subject`, done by `actor`.
    pub fn record(&mut self, subject: Subject, actor: Option<i64>, action: AuditAction) {
        self.events.push(Event { subject, actor, action, details: None, context: None });
    }

    /// [`UnitOfWork::record`] with details (never a secret).
    pub fn record_with(
        &mut self,
        subject: Subject,
        actor: Option<i64>,
        action: AuditAction,
        details: Value,
    ) {
        self.events.push(Event { subject, actor, action, details: Some(details), context: None });
    }

    /// Records `action` about `subject` for the request of `context` (a queued one).
    pub fn record_for(&mut self, context: &Context, subject: Subject, action: AuditAction) {
        let context = Some(context.clone());
        self.events.push(Event { subject, actor: None, action, details: None, context });
    }

    /// Queues `notice` for mailing once this commits.
    pub fn notify(&mut self, notice: Notice) {
        self.notices.push(notice);
    }

    /// Publishes `event` to the webhook URLs once this commits (nothing when no URL is set or
    /// its type is not in `WEBHOOK_EVENTS`).
    pub fn publish(&mut self, event: UserEvent) {
        self.published.push(event);
    }

    /// Drops the events recorded so far (a dry run that rolls back: they would never be written).
    pub fn forget_events(&mut self) {
        self.events.clear();
    }

    /// Reads account `id` `FOR KEY SHARE`: true while it exists, and then it stays until this
    /// commits (a deletion waits). For a flow that must answer differently once its account is
    /// gone (an event about it would be dropped).
    pub fn hold_account(&mut self, id: i64) -> Result<bool, Error> {
        sql::hold_account(&mut self.tx, id)
    }

    /// Writes the recorded events and notices, commits, and wakes the worker for the mail.
    /// Errors: 500, and nothing committed, if a notice to deliver before the answer was queued
    /// (that takes [`UnitOfWork::commit_for_answer`]).
    pub fn commit(self, state: &AppState) -> Result<(), Error> {
        self.finish_owing_nothing(state, false)
    }

    /// [`UnitOfWork::commit`] for a flow that queued a notice the contract wants mailed before
    /// the answer: returns those notices, for [`Committed::deliver`] once the request's
    /// connection is back in the pool (a slow mail API must not hold a connection idle).
    pub fn commit_for_answer(self, state: &AppState) -> Result<Committed, Error> {
        self.finish(state, false)
    }

    /// [`UnitOfWork::commit`], running the statement that writes the events even when there is
    /// none: for a flow whose failures must cost the same work whatever the email is (a failure
    /// that records an event must not take one statement longer than one that does not).
    pub fn commit_alike(self, state: &AppState) -> Result<(), Error> {
        self.finish_owing_nothing(state, true)
    }

    /// [`UnitOfWork::commit`] outside the service (the `admin` subcommand): the events and the
    /// webhook deliveries are written (the service's senders find them within a second); there
    /// is no worker to wake, so queuing mail here is a bug (500).
    pub fn commit_without_mail(mut self, webhooks: &WebhookSettings) -> Result<(), Error> {
        if !self.notices.is_empty() {
            return Err(Error::internal("mail queued outside the service"));
        }
        if !self.events.is_empty() {
            sql::insert_events(&mut self.tx, &self.context, &self.events)?;
        }
        sql::insert_webhook_events(&mut self.tx, &self.published, webhooks)?;
        Ok(self.tx.commit()?)
    }

    fn finish_owing_nothing(
        self,
        state: &AppState,
        always_write_events: bool,
    ) -> Result<(), Error> {
        if self.notices.iter().any(|n| n.delivery() == Delivery::BeforeAnswer) {
            return Err(Error::internal("a notice before the answer needs commit_for_answer"));
        }
        let _nothing_owed = self.finish(state, always_write_events)?;
        Ok(())
    }

    fn finish(mut self, state: &AppState, always_write_events: bool) -> Result<Committed, Error> {
        if always_write_events || !self.events.is_empty() {
            sql::insert_events(&mut self.tx, &self.context, &self.events)?;
        }
        let queued = if self.notices.is_empty() {
            Vec::new()
        } else {
            let templates = &state.config.mail.templates;
            let messages =
                self.notices.iter().map(|n| n.message(templates)).collect::<Result<Vec<_>, _>>()?;
            sql::insert_notices(
                &mut self.tx,
                &self.notices,
                &messages,
                crate::outbox::lease(state),
            )?
        };
        let hooks =
            sql::insert_webhook_events(&mut self.tx, &self.published, &state.config.webhooks)?;
        self.tx.commit()?;
        if !queued.is_empty() {
            state.worker_signal.wake();
        }
        if hooks > 0 {
            state.wake_webhook_senders();
        }
        let owed = queued.iter().zip(&self.notices);
        let owed = owed.filter(|(_, notice)| notice.delivery() == Delivery::BeforeAnswer);
        Ok(Committed { before_answer: owed.map(|(id, _)| *id).collect() })
    }
}

/// A committed unit of work that still owes its request the notices to mail before the answer
/// (their outbox ids).
#[must_use = "deliver the notices the answer waits for"]
pub struct Committed {
    before_answer: Vec<i64>,
}

impl Committed {
    /// Returns `connection` (the one the unit of work ran on) to the pool, then tries each notice
    /// once; a failed try is logged and left to the worker's retries.
    pub fn deliver(self, state: &AppState, connection: PooledConnection<Manager>) {
        drop(connection);
        for id in self.before_answer {
            crate::outbox::deliver_now(state, id);
        }
    }
}
