//! A stand-in for PingOne, for answers the sandbox never gives.

use crate::{Workspace, FAST_RETRIES, POLICY};

/// A stand-in for PingOne on loopback, for answers the sandbox never gives (a 404 that names
/// nothing, a quota reset that is not a date): any token is issued, every user has no
/// devices and may have MFA switched on, and each device POST is answered with what
/// `answer` returns for the user: a status and a body.
pub struct Stub {
    pub addr: std::net::SocketAddr,
    pub environment_id: String,
}

pub async fn stub_pingone(answer: fn(&str) -> (u16, String)) -> Stub {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    let json = |status: u16, body: String| {
        let status = StatusCode::from_u16(status).expect("a status");
        (status, [("content-type", "application/json")], body)
    };
    let app = axum::Router::new()
        .route(
            "/{env}/as/token",
            post(move || async move {
                json(
                    200,
                    r#"{"access_token":"stub","token_type":"Bearer","expires_in":3600}"#.into(),
                )
            }),
        )
        .route(
            "/v1/environments/{env}/users/{user}/devices",
            get(move || async move { json(200, r#"{"_embedded":{"devices":[]}}"#.into()) }).post(
                move |Path((_, user)): Path<(String, String)>| async move {
                    let (status, body) = answer(&user);
                    json(status, body)
                },
            ),
        )
        .route(
            "/v1/environments/{env}/users/{user}/mfaEnabled",
            get(move || async move { json(200, r#"{"mfaEnabled":false}"#.into()) })
                .put(move || async move { json(200, r#"{"mfaEnabled":true}"#.into()) }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Stub {
        addr,
        environment_id: "5f4a8e2c-0000-4c1e-9d53-00000000e4b1".into(),
    }
}

impl Stub {
    /// A config pointing at the stub, with extra `[enroll]` lines.
    pub fn config(&self, ws: &Workspace, enroll: &str) {
        let enroll = crate::with_mfa_choice(enroll);
        ws.write(
            "mfa-enroll.toml",
            &format!(
                "[pingone]\nenvironment_id = \"{env}\"\nclient_id = \"stub\"\n\
                 api_url = \"http://{addr}/v1\"\nauth_url = \"http://{addr}\"\n\
                 [enroll]\npolicy_id = \"{POLICY}\"\n{enroll}\n[limits]\nrate = 1000\n{FAST_RETRIES}",
                env = self.environment_id,
                addr = self.addr,
            ),
        );
    }
}
