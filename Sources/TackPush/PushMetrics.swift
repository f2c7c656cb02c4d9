import CoreMetrics
import Metrics
import Synchronization

/// The push role's metrics (served at `/push/metrics` in the Prometheus text format).
final class PushMetrics: Sendable {
    /// Open WebSocket and SSE connections.
    let connections = Gauge(label: "tack_push_connections")
    /// Board subscriptions held by those connections.
    let subscriptions = SubscriptionGauge()
    /// Events written to clients.
    let deliveries = Counter(label: "tack_push_deliveries_total")
    /// Clients cut off for not reading (close 4008).
    let cutoffs = Counter(label: "tack_push_cutoffs_total")
    /// Gaps in the live stream read back from the history stream or PostgreSQL (once per board).
    let gapRefills = Counter(label: "tack_push_gap_refills_total")
    /// Resyncs sent because the log no longer held a gap.
    let resyncs = Counter(label: "tack_push_resyncs_total")
    /// Seconds from an event's commit to its write to a client.
    let latency = Timer(label: "tack_push_publish_to_send_seconds", preferredDisplayUnit: .seconds)
    private let open = Atomic<Int>(0)

    init() {}

    func connectionOpened() {
        connections.record(open.add(1, ordering: .relaxed).newValue)
    }

    func connectionClosed() {
        connections.record(open.subtract(1, ordering: .relaxed).newValue)
    }

    /// Connections open now (for `status`).
    var openConnections: Int { open.load(ordering: .relaxed) }

    /// A gauge counted up and down from several loops.
    final class SubscriptionGauge: Sendable {
        private let gauge = Gauge(label: "tack_push_subscriptions")
        private let value = Atomic<Int>(0)

        func increment() { gauge.record(value.add(1, ordering: .relaxed).newValue) }
        func decrement() { gauge.record(value.subtract(1, ordering: .relaxed).newValue) }
    }
}
