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
