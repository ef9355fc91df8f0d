//! Delivering one stored message: SMTP in production (`SMTP_URL`, with TLS and
//! authentication as the URL says), `.eml` files under `data/mail/` as the offline
//! default, or memory for tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Message, SmtpTransport, Transport as _};

use crate::db::outbox::OutboxRow;
use crate::private_files;

pub enum Transport {
    Smtp(SmtpTransport),
    /// `<random>.eml` files in this folder, each readable by the owner alone
    /// (lettre's `FileTransport` writes them under the umask, usually 0644).
    File(PathBuf),
    Memory(Arc<Mutex<Vec<Message>>>),
}

/// Why a delivery failed, and whether trying again could help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    host: String,
}

impl Mailer {
    /// SMTP when a URL is given (`smtp://user:pass@host:587?tls=required`,
    /// `smtps://host:465`, `smtp://localhost:2525` for plain), otherwise files.
    /// `timeout` bounds connecting and the wait for each answer (the greeting,
    /// every command, the end of the data), so a server that hangs fails one
    /// message, which is tried again later, instead of holding its lane.
    pub fn new(
        smtp_url: Option<&str>,
        mail_dir: &Path,
        from: &str,
        timeout: std::time::Duration,
    ) -> Result<Mailer, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("MAIL_FROM {from:?}: {e}"))?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(
                SmtpTransport::from_url(url)
                    .map_err(|e| format!("SMTP_URL: {e}"))?
                    .timeout(Some(timeout))
                    .build(),
            ),
            None => {
                private_files::create_dir(mail_dir)
                    .map_err(|e| format!("cannot create {}: {e}", mail_dir.display()))?;
                Transport::File(mail_dir.to_path_buf())
            }
        };
        Ok(Mailer::with_transport(transport, from))
    }

    pub fn with_transport(transport: Transport, from: Mailbox) -> Mailer {
        let host = from.email.domain().to_string();
        Mailer {
            transport,
            from,
            host,
        }
    }

    /// Builds the MIME message of a stored row: text and HTML alternatives, and the
    /// hearing invitation both inline (Outlook) and attached (everyone else).
    pub fn message(&self, row: &OutboxRow) -> Result<Message, SendError> {
        let to: Mailbox = row.recipient_email.parse().map_err(|e| SendError {
            message: format!("recipient {:?}: {e}", row.recipient_email),
            permanent: true,
        })?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&row.subject)
            // The same id on every attempt lets a receiving server drop a duplicate.
            .message_id(Some(format!("<outbox-{}@{}>", row.id, self.host)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Digicon-Outbox-Id"),
                row.id.to_string(),
            ));
        let mut alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(row.body_text.clone()))
            .singlepart(SinglePart::html(row.body_html.clone()));
        let body = match &row.calendar {
            Some(ics) => {
                let calendar_type = ContentType::parse(
                    "text/calendar; method=REQUEST; charset=UTF-8",
                )
                .map_err(|e| SendError {
                    message: e.to_string(),
                    permanent: true,
                })?;
                alternative = alternative.singlepart(
                    SinglePart::builder()
                        .header(calendar_type.clone())
                        .body(ics.clone()),
                );
                MultiPart::mixed().multipart(alternative).singlepart(
                    Attachment::new("invite.ics".into()).body(ics.clone(), calendar_type),
                )
            }
            None => alternative,
        };
        builder.multipart(body).map_err(|e| SendError {
            message: format!("building the message: {e}"),
            permanent: true,
        })
    }

    pub fn send(&self, row: &OutboxRow) -> Result<(), SendError> {
        let message = self.message(row)?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(&message).map(|_| ()).map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            }),
            Transport::File(dir) => write_eml(dir, &message).map_err(|e| SendError {
                message: format!("writing to {}: {e}", dir.display()),
                permanent: false,
            }),
            Transport::Memory(sent) => {
                sent.lock()
                    .map_err(|_| SendError {
                        message: "memory transport poisoned".into(),
                        permanent: false,
                    })?
                    .push(message);
                Ok(())
            }
        }
    }
}

/// Writes one message as `<random>.eml` (mode 0600) in `dir`, as lettre's file
/// transport names them.
fn write_eml(dir: &Path, message: &Message) -> std::io::Result<()> {
    let name = format!("{:032x}.eml", rand::random::<u128>());
    let mut file = private_files::create_new(&dir.join(name))?;
    file.write_all(&message.formatted())
}
