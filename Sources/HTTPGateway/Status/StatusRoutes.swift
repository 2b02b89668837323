import Cluster
import Foundation
import Hummingbird

/// `/` (the status page), `/v1/status` (the JSON it polls) and `/metrics` (Prometheus).
struct StatusRoutes {
    let link: CoordinatorLink
    let catalog: BatchCatalog
    let metrics: GatewayMetrics
    let storeDirectory: String?

    /// Batches whose latest images the status page shows (the active ones first).
    static let thumbnailBatches = 4
    static let thumbnails = 12

    func add(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in HTTPAnswers.text(StatusPage.html, contentType: "text/html; charset=utf-8") }
        router.get("v1/status") { _, _ in await status() }
        router.get("metrics") { _, _ in await prometheus() }
    }

    /// Workers, batches with counts, throughput, problems and the latest finished images.
    func status() async -> Response {
        do {
            let reply = try await link.call { try $0.status() }
            let active = reply.batches.filter { $0.counts.unfinished > 0 }
            let recent = active + reply.batches.filter { $0.counts.unfinished == 0 }.suffix(Self.thumbnailBatches).reversed()
            let shown = Array(recent.prefix(Self.thumbnailBatches)).map(\.batchId)
            for id in shown { _ = try? await catalog.refresh(id) }
            let latest = await catalog.latest(Self.thumbnails, of: shown)
            let object: [String: Any] = [
                "evaluations_per_second": reply.evaluationsPerSecond,
                "problems": reply.problems ?? [],
                "workers": reply.workers.map { worker -> [String: Any] in
                    ["name": worker.name, "models": worker.models, "engine": worker.engine ?? "unknown",
                     "in_flight": worker.inFlight, "busy": worker.inFlight > 0, "evaluations_done": worker.evaluationsDone,
                     "retired": worker.retired ?? NSNull(), "liveness": worker.liveness]
                },
                "batches": reply.batches.reversed().map(BatchRoutes.summary),
                "latest_images": latest.map { ["batch": $0.batchId, "file": $0.file, "url": "/v1/batches/\($0.batchId)/images/\($0.file)"] },
            ]
            return HTTPAnswers.json(object)
        } catch {
            return BatchRoutes.answer(error)
        }
    }

    func prometheus() async -> Response {
        do {
            let reply = try await link.call { try $0.status() }
            let text = MetricsText.render(status: reply, gateway: metrics.snapshot(), storeBytes: MetricsText.storeBytes(storeDirectory))
            return HTTPAnswers.text(text, contentType: MetricsText.contentType)
        } catch {
            return HTTPAnswers.text("# the coordinator does not answer: \(error)\n", contentType: MetricsText.contentType,
                                    status: .serviceUnavailable)
        }
    }
}
