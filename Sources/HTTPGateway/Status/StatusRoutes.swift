import Cluster
import Foundation
import Hummingbird

/// `/` (the status page), `/v1/status` (the JSON it polls) and `/metrics` (Prometheus).
struct StatusRoutes {
    let link: CoordinatorLink
    let catalog: BatchCatalog
    let metrics: GatewayMetrics
    let storeDirectory: String?
    let rates = WorkerRates()

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
            let perSecond = rates.update(reply.workers, now: monotonicSeconds())
            let object: [String: Any] = [
                "evaluations_per_second": reply.evaluationsPerSecond,
                "problems": reply.problems ?? [],
                "workers": reply.workers.map { worker -> [String: Any] in
                    ["name": worker.name, "models": worker.models, "engine": worker.engine ?? "unknown",
                     "in_flight": worker.inFlight, "busy": worker.inFlight > 0, "evaluations_done": worker.evaluationsDone,
                     "evaluations_per_second": perSecond[worker.name].map { $0 as Any } ?? NSNull(),
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
            let perSecond = rates.update(reply.workers, now: monotonicSeconds())
            let text = MetricsText.render(status: reply, workerRates: perSecond, gateway: metrics.snapshot(),
                                          storeBytes: MetricsText.storeBytes(storeDirectory))
            return HTTPAnswers.text(text, contentType: MetricsText.contentType)
        } catch {
            return HTTPAnswers.text("# the coordinator does not answer: \(error)\n", contentType: MetricsText.contentType,
                                    status: .serviceUnavailable)
        }
    }
}

/// Each worker's evaluations per second, from the counts of successive STATUS replies over the
/// last minute (the coordinator reports counts; a rate needs two looks some seconds apart).
final class WorkerRates: @unchecked Sendable {
    private let lock = NSLock()
    private var samples: [String: [(time: Double, done: Int)]] = [:]
    static let window = 60.0
    /// Shortest span a rate is given for (a shorter one is mostly noise).
    static let shortest = 2.0

    func update(_ workers: [WorkerSummary], now: Double) -> [String: Double] {
        lock.withLock {
            var rates: [String: Double] = [:]
            let present = Set(workers.map(\.name))
            samples = samples.filter { present.contains($0.key) }
            for worker in workers {
                var list = (samples[worker.name] ?? []).filter { now - $0.time <= Self.window && $0.done <= worker.evaluationsDone }
                list.append((now, worker.evaluationsDone))
                samples[worker.name] = list
                if let first = list.first, now - first.time >= Self.shortest {
                    rates[worker.name] = Double(worker.evaluationsDone - first.done) / (now - first.time)
                }
            }
            return rates
        }
    }
}
