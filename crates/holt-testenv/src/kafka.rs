//! A single-node Kafka (KRaft, broker + controller) with ACLs enforced on a mutual-TLS listener.
//!
//! Clients reach it only through `SSL://127.0.0.1:<port>` (`ssl.client.auth=required`, PEM keystore and
//! truststore). Their principal is `User:CN=<common name>`. `StandardAuthorizer` decides, with
//! `allow.everyone.if.no.acl.found=false`; the super users are [`KAFKA_ADMIN_CN`] and `ANONYMOUS` (the
//! broker's own plaintext listeners, which clients are never given).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;

use crate::components::Component;
use crate::error::{Error, write_file};
use crate::pki::{CertificateAuthority, IssuedCert};
use crate::ports::{free_port, with_fresh_ports};
use crate::process::{Lifetime, Process, ProcessInfo, run_command};
use crate::rundir::RunDir;
use crate::shared::{SharedCell, get_or_start};

/// The common name of the super user's client certificate (principal `User:CN=holt-kafka-admin`).
pub const KAFKA_ADMIN_CN: &str = "holt-kafka-admin";

/// What the broker logs once it serves requests.
const STARTED: &str = "Kafka Server started";

/// How to start a [`Kafka`] broker.
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// Who stops the process. Default: [`Lifetime::Test`].
    pub lifetime: Lifetime,
    /// Where to keep configuration, data and logs. Default: a fresh directory in this test process's
    /// scratch directory.
    pub dir: Option<PathBuf>,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        Self {
            lifetime: Lifetime::Test,
            dir: None,
        }
    }
}

/// A client identity for the broker's mTLS listener.
#[derive(Debug, Clone)]
pub struct KafkaClient {
    /// The certificate's common name.
    pub common_name: String,
    /// The Kafka principal the broker sees: `User:CN=<common name>`.
    pub principal: String,
    /// The certificate and key.
    pub cert: IssuedCert,
    /// A PEM keystore file: the key followed by the certificate.
    pub keystore: PathBuf,
    /// A Java client properties file (`security.protocol=SSL`, PEM keystore and truststore) for Kafka's
    /// tools (`--command-config`, `--producer.config`, ...).
    pub properties: PathBuf,
}

/// What [`Kafka::produce_one`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Produced {
    /// The broker acknowledged the message.
    Acked,
    /// The producer reported a send error (the JSON line, e.g. with `TopicAuthorizationException`).
    Refused(String),
    /// The producer reported neither (its output).
    NoOutcome(String),
}

impl Produced {
    /// Refused because the principal may not write the topic.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Produced::Refused(e) if e.contains("TopicAuthorizationException"))
    }
}

/// A running Kafka broker. Dropping it stops the process (test lifetime).
#[derive(Debug)]
pub struct Kafka {
    /// `None` while stopped by [`Kafka::stop`].
    process: Option<Process>,
    lifetime: Lifetime,
    log_config: PathBuf,
    bootstrap: String,
    ca: CertificateAuthority,
    ca_file: PathBuf,
    admin: KafkaClient,
    libs: PathBuf,
    tools_log_config: PathBuf,
    startup: Duration,
    next: AtomicUsize,
    dir: RunDir,
}

static SHARED: SharedCell<Kafka> = SharedCell::const_new();

impl Kafka {
    /// Formats storage, starts the broker and waits until it serves on its mTLS listener.
    pub async fn start(options: KafkaOptions) -> Result<Self, Error> {
        let libs = Component::Kafka.file("libs")?;
        let dir = RunDir::new("kafka", options.dir.as_deref(), options.lifetime).map_err(Error::io(
            "kafka",
            "create the directory for",
            "the broker",
        ))?;
        let began = Instant::now();
        let pki = |e| Error::Pki {
            component: "kafka",
            source: e,
        };
        let ca = CertificateAuthority::new("holt-testenv-kafka-ca").map_err(pki)?;
        let ca_file = dir.join("ca.crt");
        write_file("kafka", &ca_file, ca.cert_pem())?;
        write_file("kafka", &dir.join("ca.key"), ca.key_pem())?;
        let broker_cert = ca.issue_server("kafka-broker", &[]).map_err(pki)?;
        let broker_keystore = dir.join("broker-keystore.pem");
        write_file(
            "kafka",
            &broker_keystore,
            format!("{}{}", broker_cert.key_pem, broker_cert.cert_pem),
        )?;

        let log_config = dir.join("log4j2.properties");
        write_file("kafka", &log_config, broker_log_config(&dir.join(AUTHORIZER_LOG)))?;
        let tools_log_config = dir.join("tools-log4j2.properties");
        write_file("kafka", &tools_log_config, LOG_CONFIG_TOOLS)?;
        let files = BrokerFiles {
            dir: &dir,
            libs: &libs,
            keystore: &broker_keystore,
            truststore: &ca_file,
            log_config: &log_config,
            tools_log_config: &tools_log_config,
        };
        let (process, bootstrap) = with_fresh_ports(|| start_broker(&files, options.lifetime)).await?;
        let startup = began.elapsed();

        let admin = mint_client(&ca, &dir, &ca_file, 0, KAFKA_ADMIN_CN)?;
        Ok(Self {
            process: Some(process),
            lifetime: options.lifetime,
            log_config,
            bootstrap,
            ca,
            ca_file,
            admin,
            libs,
            tools_log_config,
            startup,
            next: AtomicUsize::new(1),
            dir,
        })
    }

    /// The broker shared by every test of this test process (stopped by the watchdog when the process
    /// ends). Tests should use their own topic names and principals.
    pub async fn shared() -> Result<&'static Self, Error> {
        get_or_start(&SHARED, "kafka", || Self::start(KafkaOptions::default())).await
    }

    /// The mTLS listener, `127.0.0.1:<port>`: the only address clients should use.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The CA that signed the broker's and every client's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The file the broker's authorizer logs each decision to (allowed ones too), one line each, e.g.
    /// `[date] DEBUG Principal = User:CN=… is Allowed operation = WRITE from host = 127.0.0.1 on resource =
    /// Topic:LITERAL:orders … (kafka.authorizer.logger)`.
    pub fn authorizer_log(&self) -> PathBuf {
        self.dir.join(AUTHORIZER_LOG)
    }

    /// The CA certificate file (a PEM truststore).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The super user (`User:CN=holt-kafka-admin`): may do anything, e.g. create ACLs.
    pub fn admin(&self) -> &KafkaClient {
        &self.admin
    }

    /// Mints a client certificate `CN=<common_name>` and writes its keystore and properties files.
    pub fn client(&self, common_name: &str) -> Result<KafkaClient, Error> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        mint_client(&self.ca, &self.dir, &self.ca_file, n, common_name)
    }

    /// A command running one of Kafka's own Java tools from the cached jars, e.g.
    /// `org.apache.kafka.tools.AclCommand`; its logging goes to stderr at WARN.
    pub fn tool(&self, class: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("java");
        command
            .args(TOOL_JVM_OPTIONS)
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.tools_log_config.display()
            ))
            .arg("-cp")
            .arg(classpath(&self.libs))
            .arg(class);
        command
    }

    /// Runs one of Kafka's Java tools with `args` and returns its output (stdout then stderr); fails
    /// unless it exits with status 0.
    pub async fn run_tool(&self, class: &str, args: &[&str]) -> Result<String, Error> {
        Ok(run_command("kafka", self.tool(class).args(args)).await?)
    }

    /// Kafka's own AclCommand as the super user over the mTLS listener (an independent client for checking
    /// ACLs), e.g. `["--list", "--principal", "User:CN=a"]`; returns its output.
    pub async fn acl_tool(&self, args: &[&str]) -> Result<String, Error> {
        let admin = self.admin.properties.display().to_string();
        let mut all = vec!["--bootstrap-server", &self.bootstrap, "--command-config", &admin];
        all.extend_from_slice(args);
        self.run_tool("org.apache.kafka.tools.AclCommand", &all).await
    }

    /// Creates `topic` (if it does not exist) as the super user.
    pub async fn create_topic(&self, topic: &str) -> Result<(), Error> {
        let admin = self.admin.properties.display().to_string();
        let args = [
            "--bootstrap-server",
            &self.bootstrap,
            "--command-config",
            &admin,
            "--create",
            "--if-not-exists",
            "--topic",
            topic,
        ];
        self.run_tool("org.apache.kafka.tools.TopicCommand", &args)
            .await
            .map(drop)
    }

    /// Produces one message to `topic` as `client` with Kafka's VerifiableProducer (which prints one JSON
    /// line per send outcome) and says whether the broker acknowledged it.
    pub async fn produce_one(&self, client: &KafkaClient, topic: &str) -> Result<Produced, Error> {
        let mut command = self.tool("org.apache.kafka.tools.VerifiableProducer");
        command
            .args([
                "--bootstrap-server",
                &self.bootstrap,
                "--topic",
                topic,
                "--max-messages",
                "1",
            ])
            .arg("--command-config")
            .arg(&client.properties);
        // The producer exits non-zero when refused: its output says why.
        let output = command.output().await.map_err(Error::io(
            "kafka",
            "run VerifiableProducer for",
            &client.properties,
        ))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        for line in stdout.lines().filter(|l| l.starts_with('{')) {
            if line.contains("\"producer_send_success\"") {
                return Ok(Produced::Acked);
            }
            if line.contains("\"producer_send_error\"") {
                return Ok(Produced::Refused(line.to_owned()));
            }
        }
        Ok(Produced::NoOutcome(format!(
            "status {}:\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )))
    }

    /// Consumes from `topic` as `client` in consumer group `group` with Kafka's ConsoleConsumer (from the
    /// beginning, at most one message, giving up after 20 s) and returns how many messages it read (0 when
    /// refused: the tool's output is in the error then).
    pub async fn consume_one(&self, client: &KafkaClient, topic: &str, group: &str) -> Result<usize, Error> {
        let mut command = self.tool("org.apache.kafka.tools.consumer.ConsoleConsumer");
        command
            .args([
                "--bootstrap-server",
                &self.bootstrap,
                "--topic",
                topic,
                "--group",
                group,
                "--from-beginning",
                "--max-messages",
                "1",
                "--timeout-ms",
                "20000",
            ])
            .arg("--consumer.config")
            .arg(&client.properties);
        let output = command.output().await.map_err(Error::io(
            "kafka",
            "run ConsoleConsumer for",
            &client.properties,
        ))?;
        // It reports "Processed a total of N messages" on stderr, also when it gives up.
        let stderr = String::from_utf8_lossy(&output.stderr);
        Ok(stderr
            .lines()
            .find_map(|l| {
                l.strip_prefix("Processed a total of ")?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0))
    }

    /// The cached jar directory (`libs/`), for `java -cp '<libs>/*'`.
    pub fn libs(&self) -> &Path {
        &self.libs
    }

    /// The directory holding configuration, data and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// From the start of storage formatting until the broker served on its mTLS listener.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The broker's process (`None` while stopped).
    pub fn process(&self) -> Option<ProcessInfo> {
        self.process.as_ref().map(Process::info)
    }

    /// Kills the broker (SIGKILL, as a crash would); its data and configuration stay for
    /// [`Kafka::restart`].
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Starts the broker again after [`Kafka::stop`], on the same ports with the same data (topics and
    /// ACLs are kept), and returns once it serves, with the time it took. Does nothing when it runs.
    pub async fn restart(&mut self) -> Result<Duration, Error> {
        if self.process.is_some() {
            return Ok(Duration::ZERO);
        }
        let began = Instant::now();
        let process = launch_broker(
            &self.dir,
            &self.libs,
            &self.log_config,
            &self.bootstrap,
            self.lifetime,
        )
        .await?;
        self.process = Some(process);
        Ok(began.elapsed())
    }
}

/// The files the broker needs, written beforehand.
#[derive(Debug)]
struct BrokerFiles<'a> {
    dir: &'a RunDir,
    libs: &'a Path,
    keystore: &'a Path,
    truststore: &'a Path,
    log_config: &'a Path,
    tools_log_config: &'a Path,
}

/// Picks ports, writes `server.properties`, formats storage, starts the broker and waits until it
/// serves on its mTLS listener. Returns the process and the bootstrap address.
async fn start_broker(files: &BrokerFiles<'_>, lifetime: Lifetime) -> Result<(Process, String), Error> {
    let port = || free_port("kafka");
    let (ssl, internal, controller) = (port()?, port()?, port()?);
    let bootstrap = format!("127.0.0.1:{ssl}");
    let properties = files.dir.join("server.properties");
    write_file(
        "kafka",
        &properties,
        server_properties(
            files.dir,
            ssl,
            internal,
            controller,
            files.keystore,
            files.truststore,
        ),
    )?;

    // A retry after a port clash formats afresh.
    let data = files.dir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(Error::io("kafka", "remove", &data))?;
    }
    let classpath = classpath(files.libs);
    let mut format = tokio::process::Command::new("java");
    format
        .args(TOOL_JVM_OPTIONS)
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            files.tools_log_config.display()
        ))
        .arg("-cp")
        .arg(&classpath)
        .args([
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "--cluster-id",
        ])
        .arg(cluster_id())
        .arg("--config")
        .arg(&properties);
    run_command("kafka", &mut format).await?;

    let process = launch_broker(files.dir, files.libs, files.log_config, &bootstrap, lifetime).await?;
    Ok((process, bootstrap))
}

/// Runs the broker on its `server.properties` (storage formatted already) and waits until it serves on
/// `bootstrap`.
async fn launch_broker(
    dir: &RunDir,
    libs: &Path,
    log_config: &Path,
    bootstrap: &str,
    lifetime: Lifetime,
) -> Result<Process, Error> {
    let properties = dir.join("server.properties");
    let classpath = classpath(libs);
    let mut command = Command::new("java");
    command
        .args([
            "-Xms256m",
            "-Xmx512m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
        ])
        .arg("-Djava.awt.headless=true")
        .arg(format!("-Dlog4j2.configurationFile={}", log_config.display()))
        .arg("-cp")
        .arg(&classpath)
        .arg("kafka.Kafka")
        .arg(&properties);
    let log = dir.join("kafka.log");
    let mut process = Process::spawn("kafka", command, &log, lifetime)?;
    process
        .wait_ready(Duration::from_secs(120), || {
            let (log, bootstrap) = (log.clone(), bootstrap.to_owned());
            async move {
                let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
                if !text.contains(STARTED) {
                    return Err(format!("the log does not say '{STARTED}' yet"));
                }
                tokio::net::TcpStream::connect(&bootstrap)
                    .await
                    .map(drop)
                    .map_err(|e| format!("connect {bootstrap}: {e}"))
            }
        })
        .await?;
    Ok(process)
}

/// JVM options for short-lived tools: start fast, stay small.
const TOOL_JVM_OPTIONS: [&str; 4] = [
    "-Xmx256m",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Xshare:auto",
];

fn classpath(libs: &Path) -> String {
    format!("{}/*", libs.display())
}

fn server_properties(
    dir: &RunDir,
    ssl: u16,
    internal: u16,
    controller: u16,
    keystore: &Path,
    truststore: &Path,
) -> String {
    format!(
        "process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
controller.listener.names=CONTROLLER
listeners=SSL://127.0.0.1:{ssl},INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=SSL://127.0.0.1:{ssl},INTERNAL://127.0.0.1:{internal}
listener.security.protocol.map=SSL:SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
log.dirs={data}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:ANONYMOUS;User:CN={KAFKA_ADMIN_CN}
ssl.client.auth=required
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.truststore.type=PEM
ssl.truststore.location={truststore}
",
        data = dir.join("data").display(),
        keystore = keystore.display(),
        truststore = truststore.display(),
    )
}

/// The file, in the broker's directory, its authorizer logs every decision to ([`Kafka::authorizer_log`]).
const AUTHORIZER_LOG: &str = "authorizer.log";

/// The broker logs INFO to stdout (its log file). Its authorizer (`kafka.authorizer.logger`) logs every
/// decision, allowed ones at DEBUG, to `authorizer_log` only, in the layout of Kafka's own
/// `log4j2.yaml` (`[date] level message (logger)`), as a broker set up for Holt's Kafka discovery logs
/// them (docs/testenv.md).
fn broker_log_config(authorizer_log: &Path) -> String {
    format!(
        "status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
appender.authz.type = File
appender.authz.name = authz
appender.authz.fileName = {authorizer_log}
appender.authz.layout.type = PatternLayout
appender.authz.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.authz.name = kafka.authorizer.logger
logger.authz.level = debug
logger.authz.additivity = false
logger.authz.appenderRef.authz.ref = authz
",
        authorizer_log = authorizer_log.display()
    )
}

/// Tools log warnings only, to stderr, so their stdout stays machine-readable.
const LOG_CONFIG_TOOLS: &str = "status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = err
";

/// A cluster ID as Kafka writes them: 16 bytes, URL-safe base64 without padding. Unique enough for a
/// throw-away broker (time and PID).
fn cluster_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(1);
    let mut bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_be_bytes();
    bytes[0] |= 0x40; // never the reserved all-zero IDs
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A client certificate `CN=<common_name>` with its keystore and properties files (number `n` in `dir`).
fn mint_client(
    ca: &CertificateAuthority,
    dir: &RunDir,
    ca_file: &Path,
    n: usize,
    common_name: &str,
) -> Result<KafkaClient, Error> {
    let cert = ca.issue_client(common_name, None).map_err(|source| Error::Pki {
        component: "kafka",
        source,
    })?;
    let safe = common_name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "_");
    let stem = format!("client-{n}-{safe}");
    let keystore = dir.join(&format!("{stem}.pem"));
    write_file("kafka", &keystore, format!("{}{}", cert.key_pem, cert.cert_pem))?;
    let properties = dir.join(&format!("{stem}.properties"));
    write_file(
        "kafka",
        &properties,
        format!(
            "security.protocol=SSL\nssl.keystore.type=PEM\nssl.keystore.location={}\n\
             ssl.truststore.type=PEM\nssl.truststore.location={}\n",
            keystore.display(),
            ca_file.display()
        ),
    )?;
    Ok(KafkaClient {
        common_name: common_name.to_owned(),
        principal: format!("User:CN={common_name}"),
        cert,
        keystore,
        properties,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_id_has_kafka_shape() {
        let id = super::cluster_id();
        assert_eq!(id.len(), 22, "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{id}"
        );
    }
}
