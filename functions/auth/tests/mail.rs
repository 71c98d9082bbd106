//! The SMTP adapter against a minimal SMTP server on 127.0.0.1 (a relay on the same machine:
//! plain `smtp://`; TLS is lettre's, over rustls, with `smtps://` or `?tls=required`).

use ragenie_auth::mail::SmtpMailer;
use ragenie_common::mail::{Mail, Mailer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Accepts one session and returns the DATA it received.
async fn fake_smtp() -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
        let mut data = String::new();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    write.write_all(b"250 queued\r\n").await.unwrap();
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let verb = line.split_whitespace().next().unwrap_or("").to_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 fake\r\n",
                "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go on\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                }
                _ => b"502 not implemented\r\n",
            };
            write.write_all(reply).await.unwrap();
        }
        data
    });
    (url, task)
}

#[tokio::test]
async fn smtp_delivers_the_message_to_the_relay() {
    let (url, server) = fake_smtp().await;
    let mailer = SmtpMailer::new(&url, "RaGenie <no-reply@example.com>").unwrap();
    mailer
        .send(&Mail {
            to: "ada@example.com".into(),
            subject: "Reset your RaGenie password".into(),
            text: "Open https://app.example.com/reset-password#token=abc".into(),
        })
        .await
        .unwrap();
    drop(mailer);
    let data = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the session ends")
        .unwrap();
    assert!(data.contains("To: ada@example.com"), "{data}");
    assert!(
        data.contains("Subject: Reset your RaGenie password"),
        "{data}"
    );
    assert!(data.contains("reset-password#token=abc"), "{data}");
}

#[test]
fn a_bad_sender_is_refused_at_start() {
    assert!(SmtpMailer::new("smtp://127.0.0.1:25", "not a mailbox <").is_err());
}
