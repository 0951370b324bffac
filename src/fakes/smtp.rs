//! A fake SMTP server on loopback that accepts every mail and records it, enough of RFC 5321
//! for lettre's plain `smtp://` transport.
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One received mail: the envelope recipients and the raw message (headers and body).
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    pub data: String,
}

pub struct FakeSmtp {
    /// For `BALAS_SMTP_URL`, e.g. `smtp://127.0.0.1:41234`.
    pub url: String,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    stop: CancellationToken,
}

impl FakeSmtp {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("smtp://{}", listener.local_addr()?);
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let (store, until) = (mails.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = until.cancelled() => break,
                    accepted = listener.accept() => {
                        if let Ok((socket, _)) = accepted {
                            tokio::spawn(session(socket, store.clone()));
                        }
                    }
                }
            }
        });
        Ok(Self { url, mails, stop })
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn session(socket: tokio::net::TcpStream, mails: Arc<Mutex<Vec<ReceivedMail>>>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 fake-smtp ready\r\n").await?;
    let mut to = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 fake-smtp\r\n",
            "RCPT" => {
                to.push(
                    line.split_once(':')
                        .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_string())
                        .unwrap_or_default(),
                );
                b"250 ok\r\n"
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                while let Some(body) = lines.next_line().await? {
                    if body == "." {
                        break;
                    }
                    data.push_str(&body);
                    data.push('\n');
                }
                if let Ok(mut m) = mails.lock() {
                    m.push(ReceivedMail { to: std::mem::take(&mut to), data });
                }
                b"250 queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
