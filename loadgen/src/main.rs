//! `courier-loadgen`: a load generator for a running Courier server. It signs users up over
//! HTTP, opens WebSockets, sends messages in one of several scenarios, and reports throughput,
//! latency percentiles and whether every message arrived exactly once and in order.

mod client;
mod collect;
mod progress;
mod report;
mod scenarios;
mod setup;
mod wire;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::collect::Clock;
use crate::scenarios::idle::IdleOpts;
use crate::scenarios::Ctx;
use crate::setup::{Api, Target};

/// How to start a server for load tests (also in loadgen/README.md).
const SERVER_HELP: &str = "\
Start the server with its limits out of the way, e.g.:

  DIR=$(mktemp -d)
  COURIER__SERVER__BIND=127.0.0.1:8080 \\
  COURIER__SERVER__DATA_DIR=$DIR COURIER__DATABASE__URL=sqlite://$DIR/courier.db \\
  COURIER__AUTH__FIXED_OTP=123456 \\
  COURIER__LIMITS__OTP_PER_IP_PER_MINUTE=1000000 \\
  COURIER__LIMITS__OTP_PER_PHONE_PER_MINUTE=1000000 \\
  COURIER__LIMITS__MESSAGES_PER_MINUTE=100000000 \\
  COURIER__LIMITS__GROUPS_PER_HOUR=1000000 \\
  COURIER__LIMITS__GROUP_ADDS_PER_HOUR=1000000 \\
  COURIER__LIMITS__MAX_GROUP_SIZE=1024 \\
  COURIER__SERVER__MAX_CONNECTIONS_PER_IP=0 \\
  COURIER__REALTIME__CONNECTS_PER_MINUTE=1000000 \\
  COURIER__REALTIME__OUTBOUND_QUEUE=100000 \\
    courier serve

  auth.fixed_otp                     every code is this (--otp); never with a real SMS provider
  limits.otp_per_ip_per_minute       all sign-ups come from one address (default 5)
  limits.messages_per_minute         per user, socket and REST together (default 60)
  limits.groups_per_hour, group_adds_per_hour, max_group_size
                                     group: 1 creation adding members - 1 users (defaults 20, 200, 1024)
  server.max_connections_per_ip      HTTP and sockets from one address (default 256; 0: no cap)
  realtime.connects_per_minute       socket connects per user (default 30, a sixth per 10 s)
  realtime.outbound_queue            frames queued per slow socket before close 4008 (default 256)
  realtime.max_sockets_per_user      sockets per user (default 10; idle --max-per-user)
  server.json_limit_bytes            groups of more than ~3,500 members need a larger body (65536)
send-message frames have no per-socket allowance (realtime.frames_per_minute.* limits the
other frames, which the loadgen does not send): limits.messages_per_minute is their limit.
Raise the open-file limit of the server's shell (ulimit -n) for idle runs with many sockets.";

#[derive(Parser)]
#[command(
    name = "courier-loadgen",
    version,
    about = "Load generator for a running Courier server",
    after_help = SERVER_HELP
)]
struct Cli {
    /// The server's root URL; a host other than loopback needs --allow-remote.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Another node of the same cluster (repeatable): sockets are spread over --url and these
    /// in turn, so the two ends of each chat sit on different nodes.
    #[arg(long = "node-url", global = true)]
    node_urls: Vec<String>,
    /// Allow a --url whose host is not a loopback address.
    #[arg(long, global = true)]
    allow_remote: bool,
    /// The server's fixed one-time code (auth.fixed_otp).
    #[arg(long, global = true, default_value = "123456")]
    otp: String,
    /// First phone number of this run's users: +1415 followed by 7 digits from this number on,
    /// at least 2000000 (default: random, so that runs against one server do not collide).
    #[arg(long, global = true)]
    phone_base: Option<u32>,
    /// Sign-ups, chat creations and socket connects in flight at once.
    #[arg(long, global = true, default_value_t = 32)]
    concurrency: usize,
    /// Longest wait in seconds for one answer, one message, one connect, and for the last
    /// messages after a timed run.
    #[arg(long, global = true, default_value_t = 10)]
    timeout: u64,
    /// Print the report as one JSON object on stdout (the table goes to stderr).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// One sender and one receiver; each message waits for the previous ack and delivery.
    Sequential {
        /// Messages to send.
        #[arg(long, default_value_t = 2000)]
        messages: u64,
        /// Send over REST (POST /api/chats/{id}/messages) instead of the socket.
        #[arg(long)]
        rest: bool,
    },
    /// Closed loop: each of --chats senders keeps --in-flight sends unanswered.
    Flat {
        /// Private chats, each with a sender and a receiver socket.
        #[arg(long, default_value_t = 100)]
        chats: u32,
        /// Sends each sender keeps unanswered.
        #[arg(long, default_value_t = 5)]
        in_flight: usize,
        /// Seconds.
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// Open loop: --rate messages per second in total on a schedule over --chats chats.
    Paced {
        /// Private chats, each with a sender and a receiver socket.
        #[arg(long, default_value_t = 100)]
        chats: u32,
        /// Messages per second offered, over all chats together.
        #[arg(long, default_value_t = 5000.0)]
        rate: f64,
        /// Seconds.
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// One group with every member connected; one member sends, one message at a time.
    Group {
        /// Members, the sender included (at most the server's limits.max_group_size).
        #[arg(long, default_value_t = 1024)]
        members: u32,
        /// Messages to send.
        #[arg(long, default_value_t = 50)]
        messages: u64,
    },
    /// Holds many idle sockets; with --server-pid, the server's memory per socket.
    Idle(IdleArgs),
    /// --parallel video messages of --size-mb each over REST at once; with --server-pid, the
    /// server's peak memory meanwhile (media.max_video_bytes must allow the size).
    Uploads {
        /// Uploads at once, each by its own user.
        #[arg(long, default_value_t = 10)]
        parallel: u32,
        /// Megabytes (10^6 bytes) per file.
        #[arg(long, default_value_t = 100)]
        size_mb: u64,
        /// The server's process id: its peak resident memory during the uploads is read.
        #[arg(long)]
        server_pid: Option<u32>,
    },
}

#[derive(Args)]
struct IdleArgs {
    /// Sockets to open.
    #[arg(long, default_value_t = 1000)]
    sockets: u32,
    /// Users the sockets are spread over (default: sockets / --max-per-user, rounded up).
    #[arg(long)]
    users: Option<u32>,
    /// Sockets one user may hold (the server's realtime.max_sockets_per_user).
    #[arg(long, default_value_t = 10)]
    max_per_user: u32,
    /// The server's process id: its VmRSS is read before, while and after (repeat it for
    /// the nodes of a cluster: their memory is added up).
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Seconds to hold the sockets open.
    #[arg(long, default_value_t = 5)]
    hold: u64,
    /// Seconds to wait after closing them before reading the memory again.
    #[arg(long, default_value_t = 10)]
    settle: u64,
    /// Child processes to spread the sockets over (one holds at most ~19,900).
    #[arg(long, default_value_t = 1)]
    procs: u32,
    /// Internal: this process is child i of P of an idle run.
    #[arg(long, hide = true)]
    child: Option<String>,
}

/// Raises the soft open-file limit to the hard one; the new limit.
fn raise_open_files() -> Result<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            bail!("getrlimit: {}", std::io::Error::last_os_error());
        }
        r.rlim_cur = r.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
            bail!("setrlimit: {}", std::io::Error::last_os_error());
        }
    }
    Ok(r.rlim_cur)
}

/// Users a scenario signs up.
fn users_needed(s: &Scenario) -> u32 {
    match s {
        Scenario::Sequential { .. } => 2,
        Scenario::Flat { chats, .. } | Scenario::Paced { chats, .. } => 2 * chats,
        Scenario::Group { members, .. } => *members,
        Scenario::Uploads { parallel, .. } => 2 * parallel,
        Scenario::Idle(a) => a.users.unwrap_or(a.sockets.div_ceil(a.max_per_user.max(1))),
    }
}

async fn run(cli: Cli) -> Result<bool> {
    let target =
        Target::parse(&cli.url, cli.allow_remote)?.with_nodes(&cli.node_urls, cli.allow_remote)?;
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let limit = raise_open_files()?;
    if let Scenario::Idle(IdleArgs {
        child: Some(spec), ..
    }) = &cli.scenario
    {
        scenarios::idle_child::child(spec, &target.sockets, cli.concurrency, timeout).await?;
        return Ok(true);
    }
    let api = Api::new(&target, &cli.otp, timeout)?;
    let health = api.health().await?;
    progress::line(format!(
        "server {}: {} {}; open-file limit here {limit}",
        target.http,
        health["database"].as_str().unwrap_or("?"),
        health["version"].as_str().unwrap_or("?")
    ));
    let needed = users_needed(&cli.scenario);
    let phones = setup::PHONES;
    if needed >= phones.end - phones.start {
        bail!("{needed} users do not fit in the load generator's phone numbers");
    }
    let phone_base = match cli.phone_base {
        Some(b) => b,
        None => rand::random_range(phones.start..phones.end - needed),
    };
    let run_id: u32 = rand::random();
    progress::line(format!(
        "run {run_id:08x}: {needed} users from {} (--phone-base {phone_base})",
        setup::phone(phone_base)
    ));
    let ctx = Ctx {
        api,
        target,
        run: run_id,
        clock: Clock::start(),
        concurrency: cli.concurrency.max(1),
        timeout,
        phone_base,
    };
    let report = match &cli.scenario {
        Scenario::Sequential { messages, rest } => {
            scenarios::sequential::run(&ctx, *messages, *rest).await?
        }
        Scenario::Flat {
            chats,
            in_flight,
            duration,
        } => {
            let d = Duration::from_secs(*duration);
            scenarios::flat::run(&ctx, *chats, (*in_flight).max(1), d).await?
        }
        Scenario::Paced {
            chats,
            rate,
            duration,
        } => scenarios::paced::run(&ctx, *chats, *rate, Duration::from_secs(*duration)).await?,
        Scenario::Group { members, messages } => {
            scenarios::group::run(&ctx, *members, *messages).await?
        }
        Scenario::Uploads {
            parallel,
            size_mb,
            server_pid,
        } => scenarios::uploads::run(&ctx, *parallel, *size_mb, *server_pid).await?,
        Scenario::Idle(a) => {
            let mut child_args = vec![
                "--url".to_string(),
                cli.url.clone(),
                "--concurrency".into(),
                cli.concurrency.to_string(),
                "--timeout".into(),
                cli.timeout.to_string(),
            ];
            if cli.allow_remote {
                child_args.push("--allow-remote".into());
            }
            for url in &cli.node_urls {
                child_args.extend(["--node-url".to_string(), url.clone()]);
            }
            let opts = IdleOpts {
                sockets: a.sockets,
                users: needed,
                max_per_user: a.max_per_user.max(1),
                server_pids: a.server_pid.clone(),
                hold: Duration::from_secs(a.hold),
                settle: Duration::from_secs(a.settle),
                procs: a.procs,
                child_args,
            };
            scenarios::idle::run(&ctx, &opts).await?
        }
    };
    if cli.json {
        eprint!("{}", report.table());
        let json = serde_json::to_string(&report.json()).context("report as JSON")?;
        println!("{json}");
    } else {
        print!("{}", report.table());
    }
    Ok(report.passed())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("courier-loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}
