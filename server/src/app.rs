//! `Application::build`: the one place the server is assembled and routes are wired.

use std::{net::TcpListener, sync::Arc};

use actix_web::{
    App, HttpServer,
    dev::Server,
    http::header,
    middleware::{DefaultHeaders, ErrorHandlers, from_fn},
    web,
};
use sea_orm::DatabaseConnection;
use utoipa_actix_web::AppExt;

use crate::{
    auth::jwt::TokenKeys,
    config::Config,
    db, demo,
    http::{self, docs::PublishedDocument, observe::observe, problems, rate_limit::rate_limit},
    mail::MailService,
    state::{AppState, Limits},
    sync::SyncService,
};

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    db: DatabaseConnection,
    server: Server,
    /// The mail worker and digest scheduler; they stop when the application is dropped.
    _mail: MailService,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects and migrates the database, loads the demo data in demo mode, and binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = db::connect(&config).await?;
        if config.demo && demo::load_if_empty(&db).await? {
            tracing::info!("demo dataset loaded");
        }
        let sync = SyncService::start(db.clone(), config.sync.clone()).await?;
        let config = Arc::new(config);
        let mail = MailService::start(db.clone(), config.clone())?;
        let listener = TcpListener::bind(config.bind)?;
        let port = listener.local_addr()?.port();
        let state = AppState {
            db: db.clone(),
            tokens: TokenKeys::new(
                &config.jwt_secret,
                &config.public_url,
                config.access_token_ttl,
            ),
            limits: Arc::new(Limits::new(&config)),
            sync,
            config,
        };
        let server = serve(listener, state)?;
        Ok(Self {
            port,
            db,
            server,
            _mail: mail,
        })
    }

    /// The port the server listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle on the database the server uses.
    pub fn db(&self) -> DatabaseConnection {
        self.db.clone()
    }

    /// Runs until the process is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn serve(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let document = web::Data::new(PublishedDocument::render());
    let server = HttpServer::new(move || {
        let (app, _) = App::new()
            .app_data(state.clone())
            .app_data(document.clone())
            .wrap(ErrorHandlers::new().default_handler(problems::rewrite))
            .wrap(from_fn(rate_limit))
            .wrap(from_fn(observe))
            .into_utoipa_app()
            .service(
                utoipa_actix_web::scope("/api/v1")
                    // Answers carry personal data: no shared or browser cache may keep them.
                    .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
                    .configure(http::routes),
            )
            .split_for_parts();
        app.service(http::docs::swagger_ui())
            .configure(http::pwa::routes)
            .default_service(web::to(problems::not_found))
    })
    .listen(listener)?
    .run();
    Ok(server)
}
