import Foundation

/// The whole configuration of a Tack process, validated and immutable.
///
/// Built once by the executable through `ConfigLoader` and passed down; nothing below the
/// executable reads files or the environment for configuration.
public struct TackConfiguration: Sendable {
    /// This machine.
    public struct Node: Sendable {
        /// Configured node name; empty means the host name (see `TackConfiguration.nodeName`).
        public var name: String
        /// Zone shown in the cluster view.
        public var zone: String
        /// Absolute storage directory.
        public var storageDirectory: String
        /// Absolute log directory.
        public var logDirectory: String
    }

    /// PostgreSQL connection settings.
    public struct Database: Sendable {
        /// Host name or address.
        public var host: String
        /// TCP port.
        public var port: Int
        /// Login role.
        public var username: String
        /// Password, if any.
        public var password: String?
        /// Database name.
        public var database: String
        /// TLS mode: disable, prefer or require.
        public var tls: String
        /// Connections per process.
        public var poolSize: Int
        /// Connect timeout.
        public var connectTimeout: Duration
        /// How long a caller waits for a pooled connection before giving up (503).
        public var acquireTimeout: Duration = .seconds(5)
        /// Longest database call: a startup GUC and a client-side watchdog; zero turns both off.
        public var statementTimeout: Duration = .seconds(30)
        /// `upgrade_db`'s URL when set (a direct URL behind a transaction pooler), else empty.
        public var migrateURL: String = ""
        /// `host:port/database` for messages (never the password).
        public var displayTarget: String { "\(host):\(port)/\(database)" }

        /// These settings pointed at `database.migrate_url` when it is set (`upgrade_db` behind a
        /// transaction pooler), else unchanged.
        public func forMigrations() throws -> Database {
            guard !migrateURL.isEmpty else { return self }
            let subject = "database.migrate_url (\(ConfigSchema.databaseMigrateUrl.spec.environmentName))"
            guard let c = URLComponents(string: migrateURL), let host = c.host, !host.isEmpty,
                let user = c.user, !user.isEmpty,
                !c.path.trimmingCharacters(in: CharacterSet(charactersIn: "/")).isEmpty
            else {
                throw TackError(.invalidConfig, subject: subject, "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE")
            }
            var copy = self
            copy.host = host
            copy.port = c.port ?? 5432
            copy.username = user.removingPercentEncoding ?? user
            copy.password = c.password?.removingPercentEncoding
            copy.database = c.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            return copy
        }
    }

    /// Redis connection settings.
    public struct Redis: Sendable {
        /// The URL as configured (holds the password; never log it).
        public var url: String
        /// Connections in the pipelining pool.
        public var poolSize: Int
        /// Connect timeout.
        public var connectTimeout: Duration
        /// Reply timeout for ordinary commands.
        public var commandTimeout: Duration
        /// Redis Sentinel: the sentinels as `host:port`; empty to use the URL's host and port.
        public var sentinels: [String] = []
        /// Redis Sentinel: the monitored master's name (set whenever `sentinels` is).
        public var masterName: String = ""
        /// Redis Sentinel: the sentinels' password (never log it).
        public var sentinelPassword: String = ""
        /// Redis Sentinel: how long a command waits for a master during a failover.
        public var failoverTimeout: Duration = .seconds(15)
        /// `host:port/db` for messages (never the password).
        public var displayTarget: String {
            guard let c = URLComponents(string: url) else { return "redis" }
            let db = c.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !sentinels.isEmpty {
                return "master '\(masterName)' via sentinels \(sentinels.joined(separator: ","))/\(db.isEmpty ? "0" : db)"
            }
            return "\(c.host ?? "?"):\(c.port ?? 6379)/\(db.isEmpty ? "0" : db)"
        }
    }

    /// Web role settings.
    public struct Web: Sendable {
        /// Listen address.
        public var host: String
        /// Listen port of the first web process.
        public var port: Int
        /// The public address of the site.
        public var baseURL: String
        /// `baseURL` without a trailing slash: what links in emails and answers start with.
        public var linkBase: String { baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL }
        /// Who may create accounts.
        public var signup: SignupPolicy
        /// How long a session lives without use; each use (at most once a minute) extends it.
        public var sessionTTL: Duration
        /// Failed logins to one account within `loginWindow` before logins to it are refused.
        public var loginMaxAttempts: Int
        /// Failed logins from one client address within `loginWindow` before its logins are refused.
        public var loginMaxAttemptsPerAddress: Int
        /// The window over which failed logins are counted.
        public var loginWindow: Duration
        /// How long a stopping process keeps serving with `Connection: close` before it stops.
        public var drainWindow: Duration
        /// True when `baseURL` is https: cookies are then marked Secure.
        public var isHTTPS: Bool { baseURL.lowercased().hasPrefix("https://") }
    }

    /// Who may create accounts (`web.signup`).
    public enum SignupPolicy: String, Sendable {
        /// Anyone who reaches the site.
        case open
        /// Only administrators.
        case invite
    }

    /// Push role settings.
    public struct Push: Sendable {
        /// Listen address.
        public var host: String
        /// Listen port.
        public var port: Int
        /// Ping interval on idle connections.
        public var pingInterval: Duration
        /// The window over which a draining process closes its clients.
        public var drainSeconds: Duration
        /// Connections held at most.
        public var maxConnections: Int
        /// Boards one connection may follow at once.
        public var maxSubscriptions: Int
    }

    /// Event settings.
    public struct Events: Sendable {
        /// Entries per board in the Redis history stream.
        public var historySize: Int
    }

    /// Worker role settings.
    public struct Worker: Sendable {
        /// Jobs one process runs at once.
        public var concurrency: Int
        /// When an unacknowledged job may be claimed by another worker.
        public var visibilityTimeout: Duration
        /// Attempts before dead-lettering.
        public var maxAttempts: Int
        /// Unfinished deliveries (worker died) before dead-lettering.
        public var maxDeliveries: Int
        /// Delay before the first retry.
        public var retryBaseDelay: Duration
        /// Cap of the retry delay.
        public var retryMaxDelay: Duration
    }

    /// Outgoing webhook settings.
    public struct Webhooks: Sendable {
        /// Whole-delivery timeout.
        public var timeout: Duration
        /// Allow internal target addresses (SSRF guard off).
        public var allowPrivateTargets: Bool
        /// Failed deliveries in a row before the webhook is disabled.
        public var disableAfterFailures: Int
    }

    /// SMTP settings.
    public struct Mail: Sendable {
        /// SMTP server, or empty for no email.
        public var host: String
        /// SMTP port.
        public var port: Int
        /// `starttls`, `tls` or `none`.
        public var security: String
        /// User name, or empty.
        public var username: String
        /// Password, or empty. Never logged.
        public var password: String
        /// The From header.
        public var from: String
        /// Extra trusted CA file, or empty.
        public var caFile: String
        /// True when email is configured.
        public var isEnabled: Bool { !host.isEmpty }
    }

    /// Export settings.
    public struct Exports: Sendable {
        /// How long an export stays downloadable.
        public var ttl: Duration
    }

    /// Card attachments.
    public struct Attachments: Sendable {
        /// The largest file one upload may be, in bytes.
        public var maxBytes: Int64
        /// Bytes all the attachments of one board may take together.
        public var boardQuotaBytes: Int64

        /// Creates the settings (25 MiB per file, 1 GiB per board by default).
        public init(maxBytes: Int64 = 26_214_400, boardQuotaBytes: Int64 = 1_073_741_824) {
            self.maxBytes = maxBytes
            self.boardQuotaBytes = boardQuotaBytes
        }
    }

    /// Scheduler lease timings.
    public struct Scheduler: Sendable {
        /// Lease lifetime.
        public var leaseTTL: Duration
        /// Renewal period.
        public var renewInterval: Duration
        /// Time without renewal after which the leader stands down.
        public var renewDeadline: Duration
        /// A standby's retry period.
        public var retryInterval: Duration
        /// The enabled periodic jobs with their schedules, in cron-table order (`scheduler.jobs`).
        public var jobs: [ConfiguredCronJob] = []
        /// How long before a card's due date its reminder goes out.
        public var reminderLeadTime: Duration = .seconds(86400)
    }

    /// How long the nightly `prune` job keeps history; nil keeps it forever.
    public struct Retention: Sendable {
        /// Finished webhook deliveries.
        public var webhookDeliveries: Duration?
        /// Board events (published, dispatched, never a board's latest).
        public var events: Duration?
        /// Records of periodic job runs.
        public var cronRuns: Duration?
    }

    /// Node registry timings.
    public struct Cluster: Sendable {
        /// Heartbeat period.
        public var heartbeatInterval: Duration
        /// Heartbeat key lifetime.
        public var heartbeatTTL: Duration
    }

    /// Logging settings.
    public struct Log: Sendable {
        /// Minimum level name.
        public var level: String
        /// `text` or `json`.
        public var format: String
    }

    /// Signs sessions and CSRF tokens. Never logged.
    public var secretKey: String
    /// This machine.
    public var node: Node
    /// PostgreSQL.
    public var database: Database
    /// Redis.
    public var redis: Redis
    /// Web role.
    public var web: Web
    /// Push role.
    public var push: Push
    /// Events.
    public var events: Events
    /// Worker role.
    public var worker: Worker
    /// Scheduler role.
    public var scheduler: Scheduler
    /// History retention (scheduler's `prune` job).
    public var retention: Retention
    /// Outgoing webhooks.
    public var webhooks: Webhooks
    /// Email.
    public var mail: Mail
    /// Exports.
    public var exports: Exports
    /// Card attachments.
    public var attachments: Attachments
    /// Job kind → queue name, every kind present.
    public var queues: [String: String]
    /// Node registry.
    public var cluster: Cluster
    /// Logging.
    public var log: Log
    /// The Tack installation directory.
    public var rootDirectory: String
    /// The file the configuration was read from, if any.
    public var sourceFile: String?

    /// The distinct queue names in use, sorted.
    public var queueNames: [String] { Array(Set(queues.values)).sorted() }

    /// The node name: configured, or the host name.
    public var nodeName: String {
        node.name.isEmpty ? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node" : node.name
    }

    /// Builds the typed configuration from validated values and checks rules between keys.
    init(values raw: [String: ConfigValue], origins: [String: ConfigLoader.Origin], rootDirectory: String, sourceFile: String?) throws {
        typealias K = ConfigSchema
        let values = ConfigValues(values: raw)
        func absolute(_ key: ConfigKey<String>) -> String {
            let p = values[key]
            return p.hasPrefix("/") ? p : (rootDirectory as NSString).appendingPathComponent(p)
        }
        func subject<V>(_ key: ConfigKey<V>) -> String {
            let path = key.spec.path
            switch origins[path] {
            case .file(let file, let line?): return "\(file):\(line): \(path)"
            case .file(let file, nil): return "\(file): \(path)"
            case .environment(let name): return "\(name) (\(path))"
            case .flag: return "--set \(path)"
            default: return path
            }
        }

        self.rootDirectory = rootDirectory
        self.sourceFile = sourceFile
        // The secret is required: an empty default is rejected here, naming the key.
        let secret = values[K.secretKey]
        guard secret.count >= 32 else {
            throw TackError(
                .invalidConfig,
                subject: subject(K.secretKey),
                "secret \(secret.isEmpty ? "missing" : "too short"); it needs at least 32 characters: generate a config with `./platform gen_config FILE` or set TACK_SECRET_KEY"
            )
        }
        secretKey = secret
        node = Node(
            name: values[K.nodeName],
            zone: values[K.nodeZone],
            storageDirectory: absolute(K.nodeStorageDir),
            logDirectory: absolute(K.nodeLogDir)
        )

        let dbURL = values[K.databaseUrl]
        guard let c = URLComponents(string: dbURL), let host = c.host else {
            throw TackError(.invalidConfig, subject: subject(K.databaseUrl), "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        let dbName = c.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !dbName.isEmpty else {
            throw TackError(
                .invalidConfig,
                subject: subject(K.databaseUrl),
                "the URL names no database; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            )
        }
        guard let user = c.user, !user.isEmpty else {
            throw TackError(
                .invalidConfig,
                subject: subject(K.databaseUrl),
                "the URL names no user; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            )
        }
        database = Database(
            host: host,
            port: c.port ?? 5432,
            username: user.removingPercentEncoding ?? user,
            password: c.password?.removingPercentEncoding,
            database: dbName,
            tls: values[K.databaseTls],
            poolSize: values[K.databasePoolSize],
            connectTimeout: values[K.databaseConnectTimeout]
        )
        database.acquireTimeout = values[K.databaseAcquireTimeout]
        database.statementTimeout = values[K.databaseStatementTimeout]
        database.migrateURL = values[K.databaseMigrateUrl]

        redis = Redis(
            url: values[K.redisUrl],
            poolSize: values[K.redisPoolSize],
            connectTimeout: values[K.redisConnectTimeout],
            commandTimeout: values[K.redisCommandTimeout]
        )
        let sentinels = values[K.redisSentinels].split(separator: ",").map(String.init)
        if !sentinels.isEmpty {
            guard !values[K.redisMasterName].isEmpty else {
                throw TackError(
                    .invalidConfig,
                    subject: subject(K.redisMasterName),
                    "missing; redis.sentinels is set, so name the master the sentinels monitor (the NAME in `sentinel monitor NAME host port quorum`)"
                )
            }
            redis.sentinels = sentinels
            redis.masterName = values[K.redisMasterName]
            redis.sentinelPassword = values[K.redisSentinelPassword]
            redis.failoverTimeout = values[K.redisFailoverTimeout]
        }
        web = Web(
            host: values[K.webHost],
            port: values[K.webPort],
            baseURL: values[K.webBaseUrl],
            signup: SignupPolicy(rawValue: values[K.webSignup]) ?? .open,
            sessionTTL: values[K.webSessionTtl],
            loginMaxAttempts: values[K.webLoginMaxAttempts],
            loginMaxAttemptsPerAddress: values[K.webLoginMaxAttemptsPerAddress],
            loginWindow: values[K.webLoginWindow],
            drainWindow: values[K.webDrainSeconds]
        )
        push = Push(
            host: values[K.pushHost],
            port: values[K.pushPort],
            pingInterval: values[K.pushPingInterval],
            drainSeconds: values[K.pushDrainSeconds],
            maxConnections: values[K.pushMaxConnections],
            maxSubscriptions: values[K.pushMaxSubscriptions]
        )
        events = Events(historySize: values[K.eventsHistorySize])
        worker = Worker(
            concurrency: values[K.workerConcurrency],
            visibilityTimeout: values[K.workerVisibilityTimeout],
            maxAttempts: values[K.workerMaxAttempts],
            maxDeliveries: values[K.workerMaxDeliveries],
            retryBaseDelay: values[K.workerRetryBaseDelay],
            retryMaxDelay: values[K.workerRetryMaxDelay]
        )
        webhooks = Webhooks(
            timeout: values[K.webhooksTimeout],
            allowPrivateTargets: values[K.webhooksAllowPrivateTargets],
            disableAfterFailures: values[K.webhooksDisableAfterFailures]
        )
        mail = Mail(
            host: values[K.mailHost],
            port: values[K.mailPort],
            security: values[K.mailSecurity],
            username: values[K.mailUsername],
            password: values[K.mailPassword],
            from: values[K.mailFrom],
            caFile: values[K.mailCaFile].isEmpty ? "" : absolute(K.mailCaFile)
        )
        exports = Exports(ttl: values[K.exportsTtl])
        attachments = Attachments(maxBytes: Int64(values[K.attachmentsMaxBytes]), boardQuotaBytes: Int64(values[K.attachmentsBoardQuotaBytes]))
        scheduler = Scheduler(
            leaseTTL: values[K.schedulerLeaseTtl],
            renewInterval: values[K.schedulerRenewInterval],
            renewDeadline: values[K.schedulerRenewDeadline],
            retryInterval: values[K.schedulerRetryInterval]
        )
        guard scheduler.renewDeadline < scheduler.leaseTTL else {
            throw TackError(
                .invalidConfig,
                subject: subject(K.schedulerRenewDeadline),
                "must be below scheduler.lease_ttl, so a leader stands down before its lease can expire"
            )
        }
        guard scheduler.renewInterval < scheduler.renewDeadline else {
            throw TackError(
                .invalidConfig,
                subject: subject(K.schedulerRenewInterval),
                "must be below scheduler.renew_deadline, so a leader renews before it must stand down"
            )
        }
        let jobSettings = values[K.schedulerJobs]
        for job in ScheduledJob.all {
            let enabled: CronSchedule?
            do {
                enabled =
                    try jobSettings[job.name].map { try ScheduledJob.schedule(for: job, setting: $0) }
                    ?? (job.enabledByDefault ? CronSchedule(parsing: job.defaultSchedule) : nil)
            } catch {
                throw TackError(.invalidConfig, subject: subject(K.schedulerJobs) + ".\(job.name)", "\(error)")
            }
            if let enabled { scheduler.jobs.append(ConfiguredCronJob(job: job, schedule: enabled)) }
        }
        scheduler.reminderLeadTime = values[K.schedulerReminderLeadTime]
        func days(_ key: ConfigKey<Int>) -> Duration? { values[key] > 0 ? .seconds(values[key] * 86400) : nil }
        retention = Retention(
            webhookDeliveries: days(K.retentionWebhookDeliveries),
            events: days(K.retentionEvents),
            cronRuns: days(K.retentionCronRuns)
        )
        var queues: [String: String] = [:]
        for kind in ConfigSchema.jobKinds { queues[kind.kind] = kind.defaultQueue }
        queues.merge(values[K.queues]) { $1 }
        self.queues = queues
        cluster = Cluster(heartbeatInterval: values[K.clusterHeartbeatInterval], heartbeatTTL: values[K.clusterHeartbeatTtl])
        guard cluster.heartbeatInterval < cluster.heartbeatTTL else {
            throw TackError(
                .invalidConfig,
                subject: subject(K.clusterHeartbeatInterval),
                "must be below cluster.heartbeat_ttl, or live processes would vanish from the registry"
            )
        }
        log = Log(level: values[K.logLevel], format: values[K.logFormat])
    }
}
