import Cluster
import Foundation
import Hummingbird
import StableDiffusion

/// sdcluster's own batch API under `/v1/batches`: a prompt file in, its images and manifest out,
/// for prompt lists too big for one txt2img call. Each route is one or a few client calls to
/// the coordinator, which stays the only keeper of batches.
struct BatchRoutes {
    let link: CoordinatorLink
    let catalog: BatchCatalog
    let settings: GatewaySettings
    let maxBodyBytes: Int

    func add(to router: Router<BasicRequestContext>) {
        let batches = router.group("v1/batches")
        batches.post { request, _ in await submit(request) }
        batches.get { _, _ in await list() }
        batches.get(":id") { _, context in await show(context.parameters.get("id") ?? "") }
        batches.get(":id/manifest.jsonl") { _, context in await manifest(context.parameters.get("id") ?? "") }
        batches.get(":id/images/:file") { _, context in
            await image(context.parameters.get("id") ?? "", file: context.parameters.get("file") ?? "")
        }
        batches.delete(":id") { _, context in await cancel(context.parameters.get("id") ?? "") }
    }

    /// The lines `sdcluster submit` takes (JSONL, or one plain prompt a line), with its
    /// defaults (seed 42, 25 steps, the model's own scheduler) and the gateway's `--guidance-cutoff`. Answered once
    /// the batch is durable. `?name=` names it; an `Idempotency-Key` header (or
    /// `?submission_id=`) makes a retried POST return the same batch.
    func submit(_ request: Request) async -> Response {
        var request = request
        guard let body = try? await request.collectBody(upTo: maxBodyBytes) else {
            return HTTPAnswers.error(.contentTooLarge, code: "too-large", "the body is larger than \(maxBodyBytes) bytes; split the prompt list")
        }
        let text = String(decoding: body.readableBytesView, as: UTF8.self)
        let query = request.uri.queryParameters
        // Empty values count as absent (a form that sends `?name=&submission_id=`).
        let name = query["name"].map(String.init).flatMap { $0.isEmpty ? nil : $0 } ?? "http"
        let given = request.headers.first(where: { $0.name.canonicalName == "idempotency-key" })?.value ?? query["submission_id"].map(String.init)
        let submissionId = given.flatMap { $0.isEmpty ? nil : $0 } ?? UUID().uuidString
        let defaults = await settings.txt2imgDefaults
        var base = GenerationRequest(prompt: "", seed: 42, steps: 25, guidanceCutoff: defaults.guidanceCutoff, latePass: defaults.latePass)
        base.model = defaults.model
        let requests: [GenerationRequest]
        do {
            requests = try PromptFile.parse(text: text, defaults: base, source: "request body")
        } catch {
            return HTTPAnswers.error(.unprocessableContent, code: "invalid-request", "\(error)")
        }
        do {
            let accepted = try await link.call {
                try $0.submit(SubmitBatch(clientBatchName: name, submissionId: submissionId, requests: requests))
            }
            return HTTPAnswers.json(["id": accepted.batchId, "name": accepted.clientBatchName,
                                     "submission_id": accepted.submissionId, "count": accepted.count], status: .created)
        } catch {
            return Self.answer(error)
        }
    }

    func list() async -> Response {
        do {
            let status = try await link.call { try $0.status() }
            return HTTPAnswers.json(["batches": status.batches.map(Self.summary)])
        } catch {
            return Self.answer(error)
        }
    }

    /// Counts, state and every finished image (index, state, file, error); images not listed
    /// are queued or running.
    func show(_ id: String) async -> Response {
        do {
            let status = try await link.call { try $0.status(batchId: id) }
            guard let batch = status.batches.first else { return HTTPAnswers.error(.notFound, code: "unknown-batch", "no batch \(id)") }
            let finished = try await catalog.refresh(id)
            var object = Self.summary(batch)
            object["images"] = finished.entries.map { entry -> [String: Any] in
                var image: [String: Any] = ["index": entry.index, "state": entry.state.rawValue]
                if let file = entry.file { image["file"] = file; image["url"] = "/v1/batches/\(id)/images/\(file)" }
                if let error = entry.error { image["error"] = error }
                return image
            }
            return HTTPAnswers.json(object)
        } catch {
            return Self.answer(error)
        }
    }

    /// The manifest lines of the finished images, in the order they finished.
    func manifest(_ id: String) async -> Response {
        do {
            let finished = try await catalog.refresh(id)
            let lines = finished.entries.filter { $0.file != nil && !$0.manifestLine.isEmpty }.map { $0.manifestLine + "\n" }
            return HTTPAnswers.text(lines.joined(), contentType: "application/jsonl; charset=utf-8")
        } catch {
            return Self.answer(error)
        }
    }

    func image(_ id: String, file: String) async -> Response {
        do {
            guard let png = try await catalog.png(batchId: id, file: file) else {
                return HTTPAnswers.error(.notFound, code: "unknown-file", "batch \(id) has no finished image \(file)")
            }
            return HTTPAnswers.bytes(Data(png), contentType: "image/png")
        } catch {
            return Self.answer(error)
        }
    }

    func cancel(_ id: String) async -> Response {
        do {
            let progress = try await link.call { try $0.cancel(batchId: id) }
            return HTTPAnswers.json(["id": id, "counts": Self.counts(progress.counts)])
        } catch {
            return Self.answer(error)
        }
    }

    static func summary(_ batch: BatchSummary) -> [String: Any] {
        ["id": batch.batchId, "name": batch.clientBatchName, "state": batch.state, "counts": counts(batch.counts)]
    }

    static func counts(_ counts: ImageCounts) -> [String: Any] {
        ["queued": counts.queued, "running": counts.running, "done": counts.done, "failed": counts.failed,
         "cancelled": counts.cancelled, "total": counts.total]
    }

    /// The gateway's error answer for a failed client call.
    static func answer(_ error: any Error) -> Response {
        guard let refusal = CoordinatorRefusal(error) else {
            return HTTPAnswers.error(.serviceUnavailable, code: "no-coordinator", "cannot reach the coordinator: \(error)")
        }
        let status: HTTPResponse.Status = switch refusal.code {
        case "unknown-batch": .notFound
        case "invalid-request", "bad-header", "no-worker-for-model", "unknown-model": .unprocessableContent
        case "too-large": .contentTooLarge
        case "limit-exceeded": .tooManyRequests
        case "not-authorized": .forbidden
        default: .internalServerError
        }
        return HTTPAnswers.error(status, code: refusal.code, refusal.message)
    }
}
