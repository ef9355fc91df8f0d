//! Building and running the application: the pool, migrations, the HTTP server.
//! Tests use the same `Application` the binary runs, bound to port 0.

use std::net::TcpListener;

use actix_web::dev::{Server, Service};
use actix_web::middleware::Logger;
use actix_web::{web, App, HttpServer};

use crate::db::{self, Pool};
use crate::settings::Settings;
use crate::web::error::{localize, request_locale, AppError};
use crate::web::{routes, AppState};

pub struct Application {
    port: u16,
    server: Server,
}

/// Connects and brings the schema up to date.
pub fn prepare_database(settings: &Settings) -> Result<Pool, String> {
    let pool = db::build_pool(&settings.database_url, settings.db_pool_size)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    db::run_migrations(&mut conn).map_err(|e| format!("migrations failed: {e}"))?;
    Ok(pool)
}

impl Application {
    /// Migrates, binds `settings.bind` and builds the server (not yet running).
    pub fn build(settings: Settings) -> Result<Application, String> {
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
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let workers = settings.workers;
        let max_body = settings.max_body_bytes;
        let state = web::Data::new(AppState::new(pool, settings));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(actix_web::web::PayloadConfig::new(max_body))
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
                .wrap_fn(|req, srv| {
                    let locale = request_locale(&req);
                    let response = srv.call(req);
                    async move { response.await.map(|r| localize(locale, r)) }
                })
                .wrap(Logger::new("%a \"%r\" %s %b %Dms"))
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
        })
    }

    /// Stops the server from another thread (tests, signal handling).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
