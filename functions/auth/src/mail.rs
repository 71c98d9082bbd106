//! The ways account mail leaves, picked by configuration ([`MailSettings`]): Amazon SES on AWS
//! (aws-sdk-sesv2; the function's role may send only as the configured identity), SMTP for
//! self-hosting (lettre over rustls), else the outbox folder of the data directory.

use std::sync::Arc;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ragenie_common::config::{MailTransport, Settings};
use ragenie_common::mail::{Mail, MailError, Mailer, OutboxMailer};
use tokio::sync::OnceCell;

/// The mailer the settings name. Without SMTP or SES: the outbox of the embedded data
/// directory, or (on AWS) the log only, with a warning at start.
pub fn from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    let from = settings.mail.from.clone();
    Ok(match &settings.mail.transport {
        MailTransport::Smtp { url } => Arc::new(SmtpMailer::new(url, &from)?),
        MailTransport::Ses { region } => Arc::new(SesMailer::new(region, &from)),
        MailTransport::Outbox => match settings.outbox_dir() {
            Some(dir) => Arc::new(OutboxMailer::new(dir, from)),
            None => {
                tracing::warn!(
                    "no mail transport configured (RAGENIE_SES_REGION or RAGENIE_SMTP_URL): \
                     password-reset mail is written to the log only"
                );
                Arc::new(LogMailer)
            }
        },
    })
}

/// Writes mail to the log only: a deployment with no mail configured.
struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        tracing::warn!(subject = %mail.subject, "no mail transport configured; the mail was not sent");
        Ok(())
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// `url`: `smtps://user:pass@host:465`, or `smtp://host:587?tls=required` (STARTTLS); a
    /// plain `smtp://host:port` is for a relay on the same machine or network only.
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("RAGENIE_SMTP_URL is not usable: {e}"))?
            .build();
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("RAGENIE_MAIL_FROM is not a mailbox: {e}"))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError(format!("bad recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .body(mail.text.clone())
            .map_err(|e| MailError(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| MailError(e.to_string()))?;
        Ok(())
    }
}

/// Amazon SES (v2 API). The client is built at the first message, from the function's
/// credentials and the configured region.
pub struct SesMailer {
    region: String,
    from: String,
    client: OnceCell<aws_sdk_sesv2::Client>,
}

impl SesMailer {
    pub fn new(region: &str, from: &str) -> Self {
        Self {
            region: region.to_owned(),
            from: from.to_owned(),
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> &aws_sdk_sesv2::Client {
        self.client
            .get_or_init(|| async {
                let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(self.region.clone()))
                    .load()
                    .await;
                aws_sdk_sesv2::Client::new(&config)
            })
            .await
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let text = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| MailError(e.to_string()))
        };
        let content = EmailContent::builder()
            .simple(
                Message::builder()
                    .subject(text(&mail.subject)?)
                    .body(Body::builder().text(text(&mail.text)?).build())
                    .build(),
            )
            .build();
        self.client()
            .await
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(content)
            .send()
            .await
            .map_err(|e| MailError(aws_sdk_sesv2::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
