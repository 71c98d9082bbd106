//! Outgoing account mail (password-reset links) behind one port. The SMTP and SES adapters live
//! with the `auth` function, the only one that sends; here is the port and the outbox used when
//! neither is configured: each message becomes a file in `<data dir>/outbox/` and a line in the
//! server log, so the whole flow works offline and in tests.

use std::path::PathBuf;

use async_trait::async_trait;

/// One plain-text message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the mail could not be sent: {0}")]
pub struct MailError(pub String);

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Writes each message to `dir` as an RFC 5322 text file (`<ulid>.eml`) and logs it.
pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
}

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            from: from.into(),
        }
    }
}

/// Header values come from our own code and a normalised email, but a line break in one would
/// still start a new header: refuse it.
fn header(value: &str) -> Result<&str, MailError> {
    if value.contains(['\r', '\n']) {
        return Err(MailError("a header value contains a line break".into()));
    }
    Ok(value)
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        let message = format!(
            "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
            header(&self.from)?,
            header(&mail.to)?,
            header(&mail.subject)?,
            mail.text.replace('\n', "\r\n"),
        );
        let path = self.dir.join(format!("{}.eml", ulid::Ulid::new()));
        let dir = self.dir.clone();
        let target = path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let tmp = target.with_extension("tmp");
            std::fs::write(&tmp, message)?;
            std::fs::rename(&tmp, &target)
        })
        .await
        .map_err(|e| MailError(e.to_string()))?
        .map_err(|e| MailError(format!("writing {}: {e}", path.display())))?;
        // Local only: no mail leaves this machine, so the log is where a person reads it.
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            path = %path.display(),
            "mail written to the outbox (no SMTP or SES configured):\n{}",
            mail.text
        );
        Ok(())
    }
}

/// Keeps messages in memory (tests of code that sends mail).
#[derive(Default)]
pub struct MemoryMailer {
    pub sent: std::sync::Mutex<Vec<Mail>>,
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        self.sent.lock().expect("mailer lock").push(mail.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_keeps_each_message_as_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = OutboxMailer::new(dir.path().join("outbox"), "RaGenie <no-reply@x.test>");
        outbox
            .send(&Mail {
                to: "ada@example.com".into(),
                subject: "Reset".into(),
                text: "Open https://x.test/reset\nThanks".into(),
            })
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.starts_with("From: RaGenie <no-reply@x.test>\r\nTo: ada@example.com\r\n"));
        assert!(text.contains("https://x.test/reset\r\nThanks"));
        let injected = Mail {
            to: "a@b.co\r\nBcc: all@example.com".into(),
            subject: "x".into(),
            text: String::new(),
        };
        assert!(outbox.send(&injected).await.is_err());
    }
}
