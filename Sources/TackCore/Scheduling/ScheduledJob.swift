import Foundation

/// A periodic job of the scheduler role: the cron table is defined here, in code; the config
/// (`scheduler.jobs`) only enables, disables or reschedules its entries.
///
/// It lives in TackCore because three roles share it: the loader validates `scheduler.jobs`
/// against it, the scheduler enqueues its ticks, and the worker runs them.
public struct ScheduledJob: Sendable, Equatable {
    /// The name in `scheduler.jobs`, in `cron_runs.job` and in tick ids.
    public let name: String
    /// The job kind a tick enqueues (its category picks the queue).
    public let kind: String
    /// The schedule when the config does not set one.
    public let defaultSchedule: String
    /// Whether the job runs when the config does not mention it.
    public let enabledByDefault: Bool
    /// How far back a new leader fires ticks that nobody fired (the previous leader died):
    /// each missed tick inside the window fires once, oldest first. Missed ticks older than the
    /// window are skipped, except the newest of them when the window holds none, so `.zero` means
    /// "fire the latest missed tick once" (right for jobs whose every run does all the work).
    public let catchUp: Duration
    /// Whether its body is SQL only, run in the transaction that records the run (so a crash
    /// rolls both back); otherwise the body is idempotent and runs after that record.
    public let runsInTransaction: Bool
    /// What it does, for the config file and `status`.
    public let doc: String

    /// Due-date reminders.
    public static let reminders = ScheduledJob(
        name: "reminders",
        kind: "notifications.due_reminders",
        defaultSchedule: "* * * * *",
        enabledByDefault: true,
        catchUp: .zero,
        runsInTransaction: true,
        doc: "due-date reminders: one `due_soon` notification per card and due date for cards due within scheduler.reminder_lead_time"
    )
    /// Expired sessions and old revoked tokens.
    public static let purgeSessions = ScheduledJob(
        name: "purge_sessions",
        kind: "maintenance.purge_sessions",
        defaultSchedule: "@hourly",
        enabledByDefault: true,
        catchUp: .zero,
        runsInTransaction: true,
        doc: "deletes expired sessions and API tokens revoked more than 30 days ago"
    )
    /// History past its retention.
    public static let prune = ScheduledJob(
        name: "prune",
        kind: "maintenance.prune",
        defaultSchedule: "30 3 * * *",
        enabledByDefault: true,
        catchUp: .zero,
        runsInTransaction: false,
        doc: "deletes webhook deliveries, board events and cron runs older than their `retention` setting"
    )
    /// Daily card counts per column.
    public static let boardSnapshots = ScheduledJob(
        name: "board_snapshots",
        kind: "maintenance.board_snapshots",
        defaultSchedule: "5 0 * * *",
        enabledByDefault: true,
        catchUp: .zero,
        runsInTransaction: true,
        doc: "counts cards (and done cards) per column of every board, once a day, for charts"
    )
    /// The failover tests' probe.
    public static let probe = ScheduledJob(
        name: "probe",
        kind: "diagnostics.cron_probe",
        defaultSchedule: "@every 1s",
        enabledByDefault: false,
        catchUp: .seconds(300),
        runsInTransaction: true,
        doc: "test job: records its ticks in cron_runs only (used by the failover tests and bench/failover)"
    )

    /// The cron table. (The event relay is not in it: every worker sweeps for unpublished events
    /// once a second on its own, because the relay is needed exactly when Redis, and so the job
    /// queue a tick would travel through, was away.)
    public static let all: [ScheduledJob] = [reminders, purgeSessions, prune, boardSnapshots, probe]

    /// Jobs are identified by name.
    public static func == (lhs: ScheduledJob, rhs: ScheduledJob) -> Bool { lhs.name == rhs.name }

    /// The job called `name`, if any.
    public static func named(_ name: String) -> ScheduledJob? { all.first { $0.name == name } }

    /// The names of every job, in table order.
    public static var names: [String] { all.map(\.name) }

    /// The texts `scheduler.jobs` accepts to turn a job off.
    public static let offValues: Set<String> = ["off", "false", "no", "disabled"]
    /// The texts `scheduler.jobs` accepts to turn a job on with its default schedule.
    public static let onValues: Set<String> = ["on", "true", "yes", "enabled"]

    /// Validates one `scheduler.jobs` entry; returns the schedule, or nil when the entry turns the job off.
    public static func schedule(for job: ScheduledJob, setting: String) throws(CronParseError) -> CronSchedule? {
        let text = setting.trimmingCharacters(in: .whitespaces)
        if offValues.contains(text.lowercased()) { return nil }
        if onValues.contains(text.lowercased()) { return try CronSchedule(parsing: job.defaultSchedule) }
        return try CronSchedule(parsing: text)
    }
}

/// A job of the cron table with the schedule the configuration gives it.
public struct ConfiguredCronJob: Sendable {
    /// The table entry.
    public let job: ScheduledJob
    /// When it fires.
    public let schedule: CronSchedule

    /// Pairs a table entry with its schedule.
    public init(job: ScheduledJob, schedule: CronSchedule) {
        self.job = job
        self.schedule = schedule
    }
}

/// The payload of a tick's job: which job, and which tick (its identity with the job name).
public struct CronTick: Codable, Sendable, Equatable {
    /// `ScheduledJob.name`.
    public var job: String
    /// The tick's scheduled time, in milliseconds since 1970.
    public var scheduledFor: Int64
    /// The owner token of the scheduler that enqueued it (recorded in `cron_runs.enqueued_by`).
    public var leader: String

    /// Creates a tick payload.
    public init(job: String, scheduledFor: Int64, leader: String) {
        self.job = job
        self.scheduledFor = scheduledFor
        self.leader = leader
    }

    /// The tick's job id: `cron:<job>:<scheduled ms>`, the same whoever enqueues it.
    public var jobID: String { Self.jobID(job: job, scheduledFor: scheduledFor) }

    /// The job id of a tick.
    public static func jobID(job: String, scheduledFor: Int64) -> String { "cron:\(job):\(scheduledFor)" }

    /// The scheduled time as a date.
    public var scheduledDate: Date { Date(timeIntervalSince1970: Double(scheduledFor) / 1000) }
}

extension NewJob {
    /// The fields of the queue stream entry this job becomes when enqueued at `enqueuedAt`
    /// (milliseconds since 1970): for scripts that `XADD` jobs themselves, like the tick script.
    public func streamFields(enqueuedAt: Int64) -> [String] {
        Job(id: id, kind: kind, payload: payload, attempt: 1, enqueuedAt: enqueuedAt, lastError: nil).streamFields
    }
}
