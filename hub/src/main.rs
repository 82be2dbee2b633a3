//! `cavs-hub`: the CAVS hub binary (`serve` by default) and its admin commands.

mod cli;
mod cli_scale;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging();
    let system = actix::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("cavs-hub")
            .build()
            .expect("cannot build the tokio runtime")
    });
    match system.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cavs-hub: {error:#}");
            ExitCode::from(cli::exit_code(&error))
        }
    }
}

/// What the log shows unless `RUST_LOG` says otherwise: the hub's own INFO lines, and only
/// warnings and errors of its dependencies (surrealkv's per-open lines, poem's line per
/// request and rumqttd's per-connection lines are INFO: `RUST_LOG=debug` shows them).
const DEFAULT_LOG_FILTER: &str =
    "warn,cavs_hub=info,cavs_api=info,cavs_models=info,cavs_recognizer=info,cavs_config=info";

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
