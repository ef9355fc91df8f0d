//! Building and running the application: the pool, migrations, the HTTP server.
//! Tests use the same `Application` the binary runs, bound to port 0.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::dev::{Server, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Logger;
use actix_web::{web, App, HttpServer};

use crate::app::sweep::Background;
use crate::db::{self, Pool};
use crate::i18n::Locale;
use crate::notify::mailer::Mailer;
use crate::notify::worker::{Worker, WorkerConfig};
use crate::settings::Settings;
use crate::web::error::{localize, request_locale, AppError};
use crate::web::pages::{error_page, is_page_path, CONTENT_SECURITY_POLICY, LANG_COOKIE};
use crate::web::{routes, AppState};

/// What a middleware closure returns: a response on the current thread.
type LocalResponse = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>>>,
>;

pub struct Application {
    port: u16,
    server: Server,
    worker: Option<RunningWorker>,
}

/// The outbox worker and the SLA sweep on their own thread, and the flag that stops it.
pub struct RunningWorker {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl RunningWorker {
    /// Starts a worker thread.
    pub fn start(
        pool: Pool,
        settings: &Settings,
        app: Arc<crate::app::App>,
    ) -> Result<RunningWorker, String> {
        let mailer = Mailer::new(
            settings.smtp_url.as_deref(),
            &settings.mail_dir(),
            &settings.mail_from,
            std::time::Duration::from_secs(settings.smtp_timeout_secs),
        )?;
        let background = Background {
            worker: Worker::new(pool.clone(), mailer, WorkerConfig::from_settings(settings)),
            app,
            pool,
            sweep_every: std::time::Duration::from_secs(settings.sla_sweep_secs),
            poll: std::time::Duration::from_millis(settings.worker_poll_ms),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("digicon-worker".into())
            .spawn(move || background.run(&flag))
            .map_err(|e| format!("cannot start the worker: {e}"))?;
        Ok(RunningWorker { stop, thread })
    }

    /// Asks the worker to stop after the message it is sending, and waits for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        if self.thread.join().is_err() {
            log::error!("the worker thread panicked");
        }
    }
}

/// Connects and brings the schema up to date.
pub fn prepare_database(settings: &Settings) -> Result<Pool, String> {
    // Migrations on a connection of their own: building an index may take longer
    // than the pool's statements may.
    drop(prepare_connection(settings)?);
    db::build_server_pool(
        &settings.database_url,
        settings.db_pool_size,
        settings.statement_timeout_ms,
        std::time::Duration::from_millis(settings.db_connect_timeout_ms),
    )
}

/// One plain connection with the schema brought up to date, for commands that
/// run and exit. No pool: its threads could still be opening connections when
/// the process exits, and libpq (through libkrb5) aborts when that races the
/// exit handlers (diesel issue #3226).
pub fn prepare_connection(settings: &Settings) -> Result<db::DbConn, String> {
    let mut conn = db::establish(&settings.database_url)?;
    db::run_migrations(&mut conn).map_err(|e| format!("migrations failed: {e}"))?;
    Ok(conn)
}

impl Application {
    /// Migrates, binds `settings.bind` and builds the server (not yet running).
    pub fn build(settings: Settings) -> Result<Application, String> {
        crate::settings::check_jwt_secret(&settings.jwt_secret)?;
        let pool = prepare_database(&settings)?;
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
        Application::with_pool(listener, pool, settings)
    }

    pub fn with_pool(
        listener: TcpListener,
        pool: Pool,
        settings: Settings,
    ) -> Result<Application, String> {
        // Whatever built the settings (the environment, a test, an embedding),
        // tokens are never signed with a guessable key.
        crate::settings::check_jwt_secret(&settings.jwt_secret)?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let workers = settings.workers;
        let max_body = settings.max_body_bytes;
        let app = Arc::new(crate::app::App::new(&settings)?);
        let worker = if settings.run_worker {
            Some(RunningWorker::start(pool.clone(), &settings, app.clone())?)
        } else {
            None
        };
        let state = web::Data::new(AppState::new(pool, settings, app)?);
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(actix_web::web::PayloadConfig::new(max_body))
                .app_data(actix_web::web::FormConfig::default().limit(max_body))
                .app_data(
                    actix_web::web::PathConfig::default()
                        .error_handler(|_, _| AppError::not_found().into()),
                )
                .app_data(
                    actix_web::web::QueryConfig::default().error_handler(|e, _| {
                        AppError::bad_request("error.invalid_parameter")
                            .arg("name", "query")
                            .arg("value", e)
                            .into()
                    }),
                )
                .wrap_fn(|req, srv| -> LocalResponse {
                    // Parameters that cannot be read as text get a 400 here, once,
                    // instead of reaching a query or a lossy decoding.
                    if crate::web::params::unreadable_query(req.query_string()) {
                        let refused = AppError::invalid_parameter("query", "…");
                        let response = req.error_response(refused);
                        return Box::pin(async move { Ok(response) });
                    }
                    Box::pin(srv.call(req))
                })
                .wrap_fn(|req, srv| {
                    let locale = request_locale(&req);
                    let state = req.app_data::<web::Data<AppState>>().cloned();
                    let page = is_page_path(req.path());
                    let page_locale = req
                        .cookie(LANG_COOKIE)
                        .and_then(|c| Locale::parse(c.value()))
                        .unwrap_or(locale);
                    let response = srv.call(req);
                    async move {
                        let response = response.await?;
                        let response = match (page, &state) {
                            (true, Some(state)) => page_errors(state, page_locale, response),
                            _ => localize(locale, response),
                        };
                        Ok(with_security_headers(response))
                    }
                })
                .wrap_fn(|mut req, srv| {
                    let started = Instant::now();
                    let id = request_id(req.headers().get(X_REQUEST_ID));
                    req.headers_mut().insert(X_REQUEST_ID, id.clone());
                    let method = req.method().clone();
                    let state = req.app_data::<web::Data<AppState>>().cloned();
                    let response = srv.call(req);
                    async move {
                        let mut response = response.await?;
                        if let Some(state) = state {
                            let route = response.request().match_pattern();
                            state.http_metrics.observe(
                                &method,
                                route.as_deref(),
                                response.status().as_u16(),
                                started.elapsed(),
                            );
                        }
                        response.headers_mut().insert(X_REQUEST_ID, id);
                        Ok(response)
                    }
                })
                .wrap(Logger::new("%a \"%r\" %s %b %Dms id=%{x-request-id}o"))
                .configure(routes)
        })
        .listen(listener)
        .map_err(|e| e.to_string())?;
        if let Some(n) = workers {
            server = server.workers(n);
        }
        Ok(Application {
            port,
            server: server.run(),
            worker,
        })
    }

    /// Stops the server from another thread (tests, signal handling).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM or its handle), then
    /// stops the worker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some(worker) = self.worker {
            // Joining blocks; do it off the async runtime.
            let _ = actix_web::rt::task::spawn_blocking(move || worker.stop()).await;
        }
        result
    }
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's request id (from a proxy) when it is a sane token, else a new one;
/// it is logged and returned so a user's report can be matched to the log line.
fn request_id(given: Option<&HeaderValue>) -> HeaderValue {
    given
        .filter(|v| {
            let bytes = v.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 64
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&format!("{:016x}", rand::random::<u64>()))
                .unwrap_or(HeaderValue::from_static("-"))
        })
}

/// Errors on page paths become HTML pages (or a redirect to the login page).
fn page_errors(
    state: &AppState,
    locale: Locale,
    response: ServiceResponse<BoxBody>,
) -> ServiceResponse<BoxBody> {
    let page = response
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .map(|e| error_page(state, response.request(), e, locale));
    match page {
        Some(page) => response.into_response(page),
        None => response,
    }
}

/// Headers every response carries: a strict CSP (no inline script), no sniffing,
/// no framing, no referrer leaking consultation URLs elsewhere. A handler's own
/// stricter value (the reset link page's `no-referrer`) is kept.
fn with_security_headers(mut response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}
