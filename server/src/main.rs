//! The `dtmx` binary: DTM's command line (`-c`, `-d`, `-r`, `-v`, `-h`) around the server,
//! and the command-line client (`dtmx list`, `dtmx show GID`, ...; see [`dtmx_server::cli`]).

use dtmx_server::config::Config;
use dtmx_server::Server;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: fewer CPU cycles per saga than glibc's malloc, whose free-chunk consolidation
/// the per-call buffers of the HTTP stack keep triggering (docs/PERFORMANCE.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: dtmx [-c config.yml] [-d] [-r] [-v] [-h]   (run the server)
  -c FILE  read DTM's YAML configuration (environment variables are read first)
  -d       debug logging
  -r       reset the store (drop and recreate the tables) and exit
  -v       print the version and exit
  -h       print this help and exit";

struct Flags {
    config: Option<PathBuf>,
    debug: bool,
    reset: bool,
}

fn parse_flags() -> Result<Option<Flags>, String> {
    let mut flags = Flags {
        config: None,
        debug: false,
        reset: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-c" => flags.config = Some(args.next().ok_or("-c needs a file")?.into()),
            "-d" => flags.debug = true,
            "-r" => flags.reset = true,
            "-v" => {
                println!("dtmx version: v{}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "-h" | "--help" => {
                println!("{USAGE}\n\n{}", dtmx_server::cli::USAGE);
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Some(flags))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args
        .first()
        .is_some_and(|a| dtmx_server::cli::COMMANDS.contains(&a.as_str()))
    {
        return dtmx_server::cli::run(args);
    }
    let flags = match parse_flags() {
        Ok(Some(flags)) => flags,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::load(flags.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dtmx: {e}");
            return ExitCode::from(2);
        }
    };
    let level = if flags.debug {
        "debug"
    } else {
        config.log_level.as_str()
    };
    if let Err(e) = dtmx_server::logging::init(level, &config.log_outputs, config.log_format) {
        eprintln!("dtmx: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.runtime_workers())
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dtmx: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        if flags.reset {
            return match dtmx_server::store::reset(&config.store).await {
                Ok(()) => {
                    let store = dtmx_server::store::describe(&config.store);
                    eprintln!("dtmx: store {store} reset");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("dtmx: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        let server = match Server::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("dtmx: {e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
