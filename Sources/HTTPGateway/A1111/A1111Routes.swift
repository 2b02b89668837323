import Cluster
import Foundation
import Hummingbird

/// The A1111-compatible routes under `/sdapi/v1`. Unlike A1111, which runs one request at a time
/// behind a lock, each txt2img call is a batch of the cluster: calls run side by side.
struct A1111Routes {
    let link: CoordinatorLink
    let jobs: Txt2ImgJobs
    let settings: GatewaySettings
    let metrics: GatewayMetrics
    let maxBodyBytes: Int

    func add(to router: Router<BasicRequestContext>) {
        let api = router.group("sdapi/v1")
        api.post("txt2img") { request, _ in await txt2img(request) }
        api.get("sd-models") { _, _ in await sdModels() }
        api.get("samplers") { _, _ in samplers() }
        api.get("schedulers") { _, _ in schedulers() }
        api.get("progress") { _, _ in await progress() }
        api.get("options") { _, _ in await options() }
        api.post("options") { request, _ in await setOptions(request) }
        api.post("interrupt") { _, _ in await interrupt() }
    }

    /// A request body read as a JSON object, or the A1111-style answer refusing it.
    private enum JSONBody {
        case object([String: Any])
        case refused(Response)
    }

    /// The body of `request` (at most `maxBodyBytes`) as a JSON object.
    private func jsonBody(_ request: Request) async -> JSONBody {
        var request = request
        guard let body = try? await request.collectBody(upTo: maxBodyBytes) else {
            return .refused(HTTPAnswers.a1111Error(.contentTooLarge, "the body is larger than \(maxBodyBytes) bytes"))
        }
        switch HTTPAnswers.jsonObject(body) {
        case .success(let object): return .object(object)
        case .failure(let problem): return .refused(HTTPAnswers.unprocessable([problem]))
        }
    }

    func txt2img(_ request: Request) async -> Response {
        let object: [String: Any]
        switch await jsonBody(request) {
        case .object(let o): object = o
        case .refused(let answer): return answer
        }
        switch Txt2ImgRequest.parse(object, defaults: await settings.txt2imgDefaults) {
        case .failure(let problems): return HTTPAnswers.unprocessable(problems.all)
        case .success(let parsed):
            return await Txt2ImgRun(link: link, jobs: jobs, metrics: metrics).answer(parsed)
        }
    }

    /// The models the connected workers host, as A1111 lists checkpoints.
    func sdModels() async -> Response {
        do {
            let status = try await link.call { try $0.status() }
            let names = Set(status.workers.filter { $0.retired == nil }.flatMap(\.models)).sorted()
            return HTTPAnswers.json(names.map { name -> [String: Any] in
                ["title": name, "model_name": name, "hash": NSNull(), "sha256": NSNull(), "filename": name, "config": NSNull()]
            })
        } catch {
            return HTTPAnswers.a1111Error(.serviceUnavailable, "cannot reach the coordinator: \(error)")
        }
    }

    func samplers() -> Response {
        HTTPAnswers.json(SamplerNames.samplers.map { sampler -> [String: Any] in
            var options: [String: Any] = [:]
            if sampler.schedules["automatic"] == .dpmpp2mKarras { options["scheduler"] = "karras" }
            return ["name": sampler.name, "aliases": sampler.aliases, "options": options]
        })
    }

    func schedulers() -> Response {
        HTTPAnswers.json(SamplerNames.schedules.map { schedule -> [String: Any] in
            ["name": schedule.name, "label": schedule.label, "aliases": NSNull(),
             "default_rho": schedule.name == "karras" ? 7.0 : -1.0, "need_inner_model": false]
        })
    }

    /// A1111's `ProgressResponse` over every txt2img call running here (images finished out of
    /// images asked for; the cluster reports images, not steps, to its clients).
    func progress() async -> Response {
        let snapshot = await jobs.snapshot()
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let state: [String: Any] = [
            "skipped": false, "interrupted": snapshot.interrupted, "stopping_generation": false,
            "job": snapshot.jobCount > 0 ? "txt2img" : "",
            "job_count": snapshot.jobCount, "job_timestamp": snapshot.started.map(formatter.string) ?? "0",
            "job_no": snapshot.jobsDone, "sampling_step": 0, "sampling_steps": 0,
        ]
        return HTTPAnswers.json(["progress": snapshot.progress, "eta_relative": snapshot.etaSeconds, "state": state,
                                 "current_image": NSNull(), "textinfo": NSNull()])
    }

    /// The options; without a chosen checkpoint, the model the coordinator would use (the first
    /// hosted one by name), as A1111 always names its loaded checkpoint.
    func options() async -> Response {
        var values = await settings.options()
        if values["sd_model_checkpoint"] is NSNull,
           let status = try? await link.call({ try $0.status() }),
           let first = Set(status.workers.filter { $0.retired == nil }.flatMap(\.models)).sorted().first {
            values["sd_model_checkpoint"] = first
        }
        return HTTPAnswers.json(values)
    }

    /// Sets options; `sd_model_checkpoint` must name a model a connected worker hosts and
    /// becomes the model of txt2img calls that name none. Other keys are kept and shown back.
    func setOptions(_ request: Request) async -> Response {
        let object: [String: Any]
        switch await jsonBody(request) {
        case .object(let o): object = o
        case .refused(let answer): return answer
        }
        if let raw = object["sd_model_checkpoint"], !(raw is NSNull) {
            guard let title = raw as? String else {
                return HTTPAnswers.unprocessable([FieldProblem(type: "string_type", location: ["sd_model_checkpoint"],
                                                               message: "Input should be a valid string", input: FieldReader.jsonText(raw))])
            }
            let name = Txt2ImgRequest.checkpointName(title)
            let hosted: [String]
            do {
                hosted = Set(try await link.call { try $0.status() }.workers.filter { $0.retired == nil }.flatMap(\.models)).sorted()
            } catch {
                return HTTPAnswers.a1111Error(.serviceUnavailable, "cannot reach the coordinator: \(error)")
            }
            guard hosted.contains(name) else {
                return HTTPAnswers.a1111Error(.unprocessableContent,
                                              "model '\(title)' not found: the connected workers host \(hosted.isEmpty ? "nothing" : hosted.joined(separator: ", "))")
            }
        }
        await settings.set(object)
        return HTTPAnswers.json(NSNull())
    }

    /// Cancels every txt2img batch running here; their calls answer with the images already done.
    func interrupt() async -> Response {
        for batchId in await jobs.interruptAll() {
            _ = try? await link.call { try $0.cancel(batchId: batchId) }
        }
        return HTTPAnswers.json([String: Any]())
    }
}

/// Settings A1111 clients change through `/sdapi/v1/options`.
actor GatewaySettings {
    private var values: [String: Any]
    private var base: Txt2ImgDefaults

    init(defaults: Txt2ImgDefaults) {
        base = defaults
        values = ["sd_model_checkpoint": defaults.model ?? NSNull(), "samples_format": "png", "CLIP_stop_at_last_layers": 1,
                  "eta_noise_seed_delta": 0, "sdcluster_guidance_cutoff": Double(defaults.guidanceCutoff)]
    }

    var txt2imgDefaults: Txt2ImgDefaults { base }

    func options() -> [String: Any] { values }

    func set(_ changes: [String: Any]) {
        for (key, value) in changes { values[key] = value }
        if let title = changes["sd_model_checkpoint"] as? String { base.model = Txt2ImgRequest.checkpointName(title) }
    }
}
