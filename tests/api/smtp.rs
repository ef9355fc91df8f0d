//! A real SMTP server on a local port for the tests: it speaks enough of RFC 5321
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for lettre to deliver over TCP,
//! keeps what it receives, and can be stopped and started again on the same port
//! to play an outage. A `Behaviour` makes it a bad server: slow to accept each
//! message, refusing some recipients for good (550), or taking connections and
//! never saying a word.

use std::io::{BufRead, BufReader, Write};

use mail_parser::MimeHeaders;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the server misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// The wait before accepting each message's data.
    pub delay: Duration,
    /// Recipients refused with `550 no such user`.
    pub reject: Vec<String>,
    /// This many connections (the first ones) are accepted and never answered.
    pub hang_first: usize,
}

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
    /// When its data was accepted.
    pub at: Instant,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.data.as_bytes())
            .expect("a MIME message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    /// The decoded text/plain body.
    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    /// The decoded text/html body.
    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed().header_raw(name).map(|v| v.trim().to_string())
    }

    /// The decoded body of the first part of a content type (e.g. `text/calendar`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let message = self.parsed();
        let (main, sub) = content_type.split_once('/')?;
        message.parts.iter().find_map(|part| {
            let ct = part.content_type()?;
            (ct.ctype() == main && ct.subtype() == Some(sub)).then(|| match &part.body {
                mail_parser::PartType::Text(t) => t.to_string(),
                mail_parser::PartType::Binary(b) | mail_parser::PartType::InlineBinary(b) => {
                    String::from_utf8_lossy(b).to_string()
                }
                _ => String::new(),
            })
        })
    }
}

pub struct SmtpReceiver {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    running: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    behaviour: Behaviour,
}

impl SmtpReceiver {
    pub fn start() -> SmtpReceiver {
        SmtpReceiver::start_with(Behaviour::default())
    }

    pub fn start_with(behaviour: Behaviour) -> SmtpReceiver {
        SmtpReceiver::start_on(0, Arc::new(Mutex::new(vec![])), behaviour)
    }

    fn start_on(
        port: u16,
        received: Arc<Mutex<Vec<Received>>>,
        behaviour: Behaviour,
    ) -> SmtpReceiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the SMTP receiver");
        let port = listener.local_addr().expect("address").port();
        let running = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(vec![]));
        let (run, inbox, open) = (running.clone(), received.clone(), connections.clone());
        let rules = behaviour.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                if !run.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if let Ok(clone) = stream.try_clone() {
                    open.lock().expect("lock").push(clone);
                }
                if n < rules.hang_first {
                    // Held open (its clone is kept above) and never answered.
                    continue;
                }
                let (inbox, rules) = (inbox.clone(), rules.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &inbox, &rules);
                });
            }
        });
        SmtpReceiver {
            port,
            received,
            running,
            connections,
            behaviour,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops listening and cuts open connections: the server is down.
    pub fn stop(&self) {
        self.running.store(false, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for stream in self.connections.lock().expect("lock").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Let the accept loop see the flag and drop the listener.
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Listens again on the same port, keeping what was received before.
    pub fn restart(&self) -> SmtpReceiver {
        SmtpReceiver::start_on(self.port, self.received.clone(), self.behaviour.clone())
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Messages to one address.
    pub fn to(&self, address: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(address)))
            .collect()
    }
}

fn address(arg: &str) -> String {
    arg.split_once(':')
        .map(|(_, a)| a)
        .unwrap_or(arg)
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn serve(
    stream: TcpStream,
    inbox: &Mutex<Vec<Received>>,
    rules: &Behaviour,
) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 test.local ESMTP ready\r\n")?;
    let mut current = Received {
        mail_from: String::new(),
        rcpt_to: vec![],
        data: String::new(),
        at: Instant::now(),
    };
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => writer.write_all(b"250-test.local\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
            "HELO" => writer.write_all(b"250 test.local\r\n")?,
            "MAIL" => {
                current = Received {
                    mail_from: address(&command),
                    rcpt_to: vec![],
                    data: String::new(),
                    at: Instant::now(),
                };
                writer.write_all(b"250 OK\r\n")?
            }
            "RCPT" => {
                let to = address(&command);
                if rules.reject.iter().any(|r| r.eq_ignore_ascii_case(&to)) {
                    writer.write_all(b"550 5.1.1 no such user here\r\n")?
                } else {
                    current.rcpt_to.push(to);
                    writer.write_all(b"250 OK\r\n")?
                }
            }
            "DATA" => {
                writer.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(unstuffed);
                }
                std::thread::sleep(rules.delay);
                current.data = data;
                current.at = Instant::now();
                inbox.lock().expect("lock").push(current.clone());
                writer.write_all(b"250 OK queued\r\n")?
            }
            "RSET" | "NOOP" => writer.write_all(b"250 OK\r\n")?,
            "QUIT" => {
                writer.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => writer.write_all(b"502 not implemented\r\n")?,
        }
    }
}
