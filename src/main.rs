//! The Halite server binary.

#[tokio::main]
async fn main() {
    std::process::exit(halite::server::cli::main_entry(halite::app::routes::router).await);
}
