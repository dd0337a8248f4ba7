//! `halite healthcheck` (the container's HEALTHCHECK) against a real listening server.

use crate::common::TestApp;

#[tokio::test]
async fn healthcheck_passes_against_a_live_server_and_fails_without_one() {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = app.router.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let config = |host: &str, port: u16| {
        let (host, port) = (host.to_string(), port.to_string());
        halite::server::config::Config::from_lookup(move |k| match k {
            "LISTEN_HOST" => Some(host.clone()),
            "LISTEN_PORT" => Some(port.clone()),
            _ => None,
        })
        .unwrap()
    };
    // A wildcard listen address is asked on loopback.
    assert_eq!(
        halite::server::cli::healthcheck(&config("0.0.0.0", port)).await,
        0
    );
    assert_eq!(
        halite::server::cli::healthcheck(&config("127.0.0.1", port)).await,
        0
    );
    server.abort();
    let _ = server.await;
    // Nothing listens there any more.
    assert_eq!(
        halite::server::cli::healthcheck(&config("127.0.0.1", port)).await,
        1
    );
}
