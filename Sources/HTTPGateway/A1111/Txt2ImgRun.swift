import Cluster
import Foundation
import Hummingbird
import ImageIO
import StableDiffusion

/// One `POST /sdapi/v1/txt2img`: the images go to the coordinator as one batch (so they spread
/// over the workers like any batch), the call long-polls for them and answers as A1111 does.
struct Txt2ImgRun {
    let link: CoordinatorLink
    let jobs: Txt2ImgJobs
    let metrics: GatewayMetrics

    /// A finished image of the batch, by index.
    struct Finished {
        var png: [UInt8]?
        var manifestLine: String
        var error: String?
    }

    func answer(_ request: Txt2ImgRequest) async -> Response {
        let seed = request.resolvedSeed()
        let requests = request.generationRequests(seed: seed)
        let started = monotonicSeconds()
        let job = await jobs.begin(images: requests.count)
        defer { Task { await jobs.end(job) } }
        let batchId: String
        do {
            let submission = SubmitBatch(clientBatchName: "txt2img", submissionId: UUID().uuidString, requests: requests)
            batchId = try await link.call { try $0.submit(submission) }.batchId
        } catch {
            return Self.refusalAnswer(error, modelNamed: request.model != nil)
        }
        if await !jobs.submitted(job, batchId: batchId) { _ = try? await link.call { try $0.cancel(batchId: batchId) } }
        var finished: [Int: Finished] = [:]
        do {
            var since = 0
            while true {
                let cursor = since
                let answer = try await link.call { try $0.fetch(batchId: batchId, since: cursor, waitSeconds: 2) }
                for result in answer.results {
                    finished[result.index] = Finished(png: result.png, manifestLine: result.manifestLine, error: result.error)
                }
                since = answer.progress.nextSince
                await jobs.progress(job, finished: finished.count)
                if answer.progress.counts.unfinished == 0 && answer.results.isEmpty { break }
            }
        } catch {
            return HTTPAnswers.a1111Error(.serviceUnavailable, "lost the coordinator while waiting for batch \(batchId): \(error)")
        }
        let interrupted = await jobs.isInterrupted(job)
        let failures = finished.filter { $0.value.png == nil }.sorted { $0.key < $1.key }
        if !interrupted, let first = failures.first {
            return HTTPAnswers.a1111Error(.internalServerError,
                                          "\(failures.count) of \(requests.count) image(s) failed (batch \(batchId)); image \(first.key): \(first.value.error ?? "failed")")
        }
        metrics.observeTxt2Img(seconds: monotonicSeconds() - started, images: finished.count - failures.count)
        let images = finished.filter { $0.value.png != nil }.sorted { $0.key < $1.key }.map(\.value)
        return Txt2ImgAnswer(request: request, seed: seed, images: images, batchId: batchId).response()
    }

    /// The HTTP answer to a refused or failed SUBMIT. A model the workers do not host is A1111's
    /// 404 "Model not found"; no worker at all (no model named) is a 503.
    static func refusalAnswer(_ error: any Error, modelNamed: Bool) -> Response {
        guard let refusal = CoordinatorRefusal(error) else {
            return HTTPAnswers.a1111Error(.serviceUnavailable, "cannot reach the coordinator: \(error)")
        }
        switch refusal.code {
        case "invalid-request", "bad-header":
            return HTTPAnswers.unprocessable([FieldProblem(type: "value_error", location: [], message: refusal.message, input: nil)])
        case "no-worker-for-model", "unknown-model":
            return modelNamed ? HTTPAnswers.a1111Error(.notFound, "Model not found: \(refusal.message)")
                : HTTPAnswers.a1111Error(.serviceUnavailable, refusal.message)
        case "limit-exceeded":
            return HTTPAnswers.a1111Error(.tooManyRequests, refusal.message)
        case "not-authorized":
            return HTTPAnswers.a1111Error(.forbidden, "the coordinator refuses the gateway's key: \(refusal.message)")
        default:
            return HTTPAnswers.a1111Error(.internalServerError, refusal.description)
        }
    }
}

/// A1111's `TextToImageResponse`: `images` (base64 PNGs, each with its `parameters` text
/// chunk), `parameters` (the request with defaults filled in) and `info` (`Processed.js()` as
/// JSON text: seeds, sizes, sampler, the infotext of every image).
struct Txt2ImgAnswer {
    let request: Txt2ImgRequest
    let seed: UInt64
    let images: [Txt2ImgRun.Finished]
    let batchId: String

    func response() -> Response {
        let manifests = images.map { line -> [String: Any] in
            (try? JSONSerialization.jsonObject(with: Data(line.manifestLine.utf8))) as? [String: Any] ?? [:]
        }
        let infotexts = images.map { image -> String in
            let chunks = (try? PNG.textChunks(image.png ?? [])) ?? []
            return chunks.first { $0.0 == "parameters" }?.1 ?? ""
        }
        let seeds = manifests.map { ($0["seed"] as? NSNumber)?.uint64Value ?? seed }
        let first = manifests.first ?? [:]
        let width = (first["width"] as? Int) ?? request.width ?? 0
        let height = (first["height"] as? Int) ?? request.height ?? 0
        let model = (first["model"] as? String) ?? request.model ?? ""
        let samplerName = request.scheduler.samplerName
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let info: [String: Any] = [
            "prompt": request.prompt, "all_prompts": Array(repeating: request.prompt, count: images.count),
            "negative_prompt": request.negativePrompt,
            "all_negative_prompts": Array(repeating: request.negativePrompt, count: images.count),
            "seed": seed, "all_seeds": seeds, "subseed": seed, "all_subseeds": seeds, "subseed_strength": 0,
            "width": width, "height": height, "sampler_name": samplerName, "cfg_scale": request.cfgScale,
            "steps": request.steps, "batch_size": request.batchSize, "restore_faces": false,
            "face_restoration_model": NSNull(), "sd_model_name": model, "sd_model_hash": NSNull(),
            "sd_vae_name": NSNull(), "sd_vae_hash": NSNull(), "seed_resize_from_w": -1, "seed_resize_from_h": -1,
            "denoising_strength": NSNull(),
            "extra_generation_params": ["Guidance cutoff": Double(request.guidanceCutoff), "Late pass": request.latePass.rawValue],
            "index_of_first_image": 0, "infotexts": infotexts, "styles": [String](), "job_timestamp": formatter.string(from: Date()),
            "clip_skip": 1, "is_using_inpainting_conditioning": false, "version": "sdcluster",
            // sdcluster's own: the coordinator's batch, whose files /v1/batches serves too.
            "sdcluster_batch": batchId,
        ]
        // The request as given (seed -1 stays -1: the seed used is in `info`), with the size the
        // model gave where the request named none.
        var parameters = request.echo
        if request.width == nil, width > 0 { parameters["width"] = width }
        if request.height == nil, height > 0 { parameters["height"] = height }
        let infoText = (try? JSONSerialization.data(withJSONObject: info, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let encoded = request.sendImages ? images.compactMap { $0.png.map { Data($0).base64EncodedString() } } : []
        return HTTPAnswers.json(["images": encoded, "parameters": parameters, "info": infoText])
    }
}
