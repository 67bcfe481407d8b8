//! The command line: `serve` (the default), `config check`, `api-key new`, `api-key hash`,
//! `secret new`, `template preview` and `healthcheck`.

mod commands;

use crate::app::{shutdown_signal, Application};
use crate::config::DEMO_API_KEY;
use clap::{Parser, Subcommand};
use commands::{check, hash_stdin, healthcheck, load, preview};
use std::path::PathBuf;
use std::process::ExitCode;

/// otpgw: an SMS one-time-code gateway.
#[derive(Debug, Parser)]
#[command(name = "otpgw", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (the default when no command is given).
    Serve {
        /// Config file used instead of the embedded development default.
        #[arg(long, short, env = "OTPGW_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Work with configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Work with API keys (and other secrets config keeps as hashes).
    ApiKey {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Work with the server secret.
    Secret {
        #[command(subcommand)]
        command: NewCommand,
    },
    /// Work with message templates.
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
    },
    /// Exit 0 when the gateway answers ready (container health checks).
    Healthcheck {
        /// Readiness URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration and report every problem.
    Check {
        /// Config file to check (default: the embedded default).
        #[arg(long, short, env = "OTPGW_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TemplateCommand {
    /// Show a template as a phone would receive it, with its encoding and segment count.
    Preview {
        /// Config file (default: the embedded default).
        #[arg(long, short, env = "OTPGW_CONFIG")]
        config: Option<PathBuf>,
        /// Tenant id.
        #[arg(long, default_value = "demo")]
        tenant: String,
        /// Template name.
        #[arg(long, default_value = "default")]
        template: String,
        /// Locale (BCP 47).
        #[arg(long)]
        locale: Option<String>,
        /// Add the 11-character Android app hash line.
        #[arg(long)]
        app_hash: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Make a new API key and print it with its hash.
    New,
    /// Print the hash of a secret read from standard input (a Twilio Auth Token or API
    /// key secret for `[tenants.<id>.twilio]`), so it never appears in a command line.
    Hash,
}

#[derive(Debug, Subcommand)]
enum NewCommand {
    /// Make a new one and print it.
    New,
}

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve { config: None }) {
        Command::Serve { config } => serve(config),
        Command::Config {
            command: ConfigCommand::Check { config },
        } => check(config),
        Command::ApiKey {
            command: KeyCommand::Hash,
        } => hash_stdin(),
        Command::ApiKey {
            command: KeyCommand::New,
        } => {
            let key = crate::crypto::new_api_key();
            println!("api key (give this to the backend, store it as a secret):\n  {key}");
            println!(
                "hash (put this in the tenant's api_keys):\n  {}",
                crate::crypto::hash_api_key(&key)
            );
            ExitCode::SUCCESS
        }
        Command::Healthcheck { url } => healthcheck(&url),
        Command::Template {
            command:
                TemplateCommand::Preview {
                    config,
                    tenant,
                    template,
                    locale,
                    app_hash,
                },
        } => preview(config, &tenant, &template, locale.as_deref(), app_hash),
        Command::Secret {
            command: NewCommand::New,
        } => {
            println!("{}", hex::encode(crate::crypto::random_bytes::<32>()));
            ExitCode::SUCCESS
        }
    }
}

fn serve(path: Option<PathBuf>) -> ExitCode {
    let cfg = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::telemetry::init(&cfg.log);
    for v in crate::config::ignored_env_vars() {
        tracing::warn!(variable = %v, "ignoring an OTPGW_ variable that names no config key (sections are separated by __)");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("otpgw: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let signal = shutdown_signal();
        let demo = cfg.tenants.values().any(|t| t.api_keys.contains(&crate::crypto::hash_api_key(DEMO_API_KEY)));
        let app = match Application::build(cfg).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("otpgw: {e}");
                return ExitCode::from(2);
            }
        };
        let addr = app.local_addr();
        let grpc = app.grpc_addr().map(|a| a.to_string()).unwrap_or_else(|| "off".into());
        let metrics = app
            .metrics_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "on the HTTP port".into());
        tracing::info!(%addr, %grpc, %metrics, "otpgw listening");
        if demo {
            tracing::info!("demo tenant active: try  curl -H 'Authorization: Bearer {DEMO_API_KEY}' http://{addr}/readyz");
        }
        match app.run_until(signal).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server error");
                ExitCode::FAILURE
            }
        }
    })
}
