import Logging
import PostgresNIO
import ServiceLifecycle
import TackCore
import TackRedis

/// Builds the worker role's services for `run worker` and for tests.
///
/// `queues` are the queue names this process consumes (all configured queues by default);
/// `processID` (the registry id) names its consumer in the queue groups. Every worker also runs
/// the sweeps: the event relay, the webhook dispatcher, export expiry, the requeue of export and
/// import jobs lost in Redis, the removal of deleted attachments' files, the hourly removal of
/// files no attachment names and, with `mail.host` set, the email sweep.
///
/// - Throws: a ``TackError`` naming `mail.from` when it is not an email address.
public func buildWorkerServices(
    config: TackConfiguration,
    queues: [String],
    processID: String,
    postgres: PostgresClient,
    redis: RedisClient,
    logger: Logger
) throws -> [any Service] {
    let log = EventLog(postgres: postgres, logger: logger)
    let publisher = EventPublisher(redis: redis, log: log, historySize: config.events.historySize, logger: logger)
    let jobQueue = JobQueue(redis: redis, routes: config.queues, logger: logger)
    let boards = BoardStore(postgres: postgres, publisher: publisher, logger: logger)
    let relay = EventRelay(log: log, publisher: publisher, logger: logger)
    let webhooks = WebhookDispatcher(postgres: postgres, queue: jobQueue, retryMaxDelay: config.worker.retryMaxDelay, logger: logger)
    let exports = ExportStore(postgres: postgres, storageDirectory: config.node.storageDirectory, logger: logger)
    let lostJobs = [LostJobRequeue.Work.exports, .imports].map {
        LostJobRequeue($0, postgres: postgres, queue: jobQueue, retryMaxDelay: config.worker.retryMaxDelay, logger: logger)
    }
    let attachmentFiles = AttachmentFiles(postgres: postgres, storageDirectory: config.node.storageDirectory, logger: logger)
    let mailer: Mailer?
    do {
        mailer = try Mailer(config: config, logger: logger)
    } catch {
        throw TackError(.invalidConfig, subject: "mail.from", "\(error)")
    }
    var handlers: [any JobHandler] = [
        DiagnosticsJobs(runs: ProbeRuns(postgres: postgres, logger: logger), worker: processID),
        WebhookDeliveryJobs(postgres: postgres, settings: config.webhooks, maxAttempts: config.worker.maxAttempts, logger: logger),
        BoardExportJobs(postgres: postgres, store: exports, attachments: attachmentFiles, logger: logger),
        BoardImportJobs(postgres: postgres, boards: boards, logger: logger),
        CronJobs(config: config, postgres: postgres, logger: logger),
    ]
    var services: [any Service] = [
        Sweeper("event relay", every: .seconds(1), logger: logger) { try await relay.sweepOnce() },
        Sweeper("webhook dispatch", every: .seconds(1), logger: logger) { try await webhooks.sweepOnce() },
        Sweeper("export expiry", every: .seconds(60), logger: logger) {
            _ = try await exports.expire()
            return false
        },
        Sweeper("lost job requeue", every: .seconds(5), logger: logger) {
            var more = false
            for requeue in lostJobs { more = try await requeue.sweepOnce() || more }
            return more
        },
        // Files of deleted attachments that the web process that deleted them did not remove.
        Sweeper("attachment removal", every: .seconds(10), logger: logger) { try await attachmentFiles.purge() > 0 },
        // Files no attachment row names (an upload its web process never recorded): at start, then hourly.
        Sweeper("attachment orphans", every: .seconds(3600), logger: logger) {
            _ = try await attachmentFiles.removeOrphans()
            return false
        },
    ]
    if let mailer {
        let notifications = NotificationEmails(mailer: mailer, postgres: postgres, queue: jobQueue, logger: logger)
        let accounts = AccountEmails(mailer: mailer, secret: config.secretKey, postgres: postgres, queue: jobQueue, logger: logger)
        handlers += [notifications, accounts] as [any JobHandler]
        services.append(
            Sweeper("email sweep", every: .seconds(2), logger: logger) {
                let more = try await notifications.sweepOnce()
                return try await accounts.sweepOnce() || more
            }
        )
    }
    let worker = JobWorker(
        queue: jobQueue,
        queues: queues,
        handlers: handlers,
        settings: config.worker,
        redis: redis,
        consumer: processID,
        logger: logger
    )
    return [worker] + services
}
