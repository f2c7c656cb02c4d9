import Hummingbird
import NIOCore
import Prometheus
import TackRedis

/// `/metrics`: the process's metrics in the Prometheus text format, for scraping.
///
/// Hummingbird's `MetricsMiddleware` records requests by route, method and status and their
/// latency histogram; PostgreSQL and Redis client metrics land in the same registry.
struct MetricsResponse: ResponseGenerator {
    let registry: PrometheusCollectorRegistry

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}

/// `/metrics`, with the Redis pool's use read at each scrape (PostgreSQL's pool gauges come from the
/// pool itself, see `Database.makeClient`).
struct MetricsController: Sendable {
    let registry: PrometheusCollectorRegistry
    let redis: RedisClient
    let redisBusy: Gauge
    let redisOutstanding: Gauge

    /// Registers the pool gauges: sizes now, use at each scrape.
    init(registry: PrometheusCollectorRegistry, redis: RedisClient, postgresPoolSize: Int) {
        func gauge(_ subsystem: String, _ metric: String, _ unit: String, _ help: String) -> Gauge {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(namespace: "tack", subsystem: subsystem, metricName: metric, unitName: unit, helpText: help)
            )
        }
        gauge("postgres", "pool", "size", "PostgreSQL connections this process may open").set(Int64(postgresPoolSize))
        gauge("redis", "pool", "size", "Redis pipelining connections of this process").set(Int64(redis.configuration.poolSize))
        self.registry = registry
        self.redis = redis
        self.redisBusy = gauge("redis", "connections", "busy", "Redis pool connections with requests outstanding")
        self.redisOutstanding = gauge("redis", "requests", "outstanding", "Redis requests queued or awaiting their reply")
    }

    func addRoutes(to router: Router<TackRequestContext>) {
        router.get("/metrics", use: metrics)
    }

    @Sendable func metrics(_ request: Request, context: TackRequestContext) -> MetricsResponse {
        let use = redis.poolUse
        redisBusy.set(Int64(use.busyConnections))
        redisOutstanding.set(Int64(use.outstandingRequests))
        return MetricsResponse(registry: registry)
    }
}
