import Foundation
import StableDiffusion

/// What the gateway fills in where an A1111 request leaves a field out, beyond A1111's own defaults.
public struct Txt2ImgDefaults: Sendable {
    /// `--guidance-cutoff`: the share of steps with full guidance for requests without `guidance_cutoff`.
    public var guidanceCutoff: Float
    public var latePass: LatePass
    /// The checkpoint `POST /sdapi/v1/options` chose; nil: the coordinator's default model.
    public var model: String?

    public init(guidanceCutoff: Float = 1, latePass: LatePass = .uncond, model: String? = nil) {
        self.guidanceCutoff = guidanceCutoff
        self.latePass = latePass
        self.model = model
    }
}

/// A `POST /sdapi/v1/txt2img` body read with A1111's field names, types and defaults
/// (`StableDiffusionProcessingTxt2Img` as its API model exposes it). Fields it does not know are
/// ignored, as pydantic ignores them; A1111 features sdcluster does not have (hires fix,
/// variation seeds, face restoration, tiling, scripts, styles) are refused when asked for,
/// rather than silently giving another image than the caller expects.
struct Txt2ImgRequest {
    var prompt: String
    var negativePrompt: String
    /// -1: a random seed, drawn once; image i gets seed + i, as in A1111.
    var seed: Int64
    var steps: Int
    var cfgScale: Double
    /// Nil: the model's native size (512 for SD v1, A1111's default).
    var width: Int?
    var height: Int?
    var scheduler: SchedulerKind
    var batchSize: Int
    var iterations: Int
    var model: String?
    var guidanceCutoff: Float
    var latePass: LatePass
    var sendImages: Bool
    /// The request's fields with A1111's defaults filled in: the answer's `parameters`.
    var echo: [String: Any]

    var imageCount: Int { batchSize * iterations }

    /// A1111's API model fields and defaults (txt2img), echoed back in `parameters`.
    static let a1111Defaults: [String: Any] = [
        "prompt": "", "negative_prompt": "", "styles": NSNull(), "seed": -1, "subseed": -1, "subseed_strength": 0,
        "seed_resize_from_h": -1, "seed_resize_from_w": -1, "sampler_name": NSNull(), "scheduler": NSNull(),
        "batch_size": 1, "n_iter": 1, "steps": 50, "cfg_scale": 7.0, "width": 512, "height": 512,
        "restore_faces": NSNull(), "tiling": NSNull(), "do_not_save_samples": false, "do_not_save_grid": false,
        "eta": NSNull(), "denoising_strength": NSNull(), "s_min_uncond": NSNull(), "s_churn": NSNull(), "s_tmax": NSNull(),
        "s_tmin": NSNull(), "s_noise": NSNull(), "override_settings": NSNull(), "override_settings_restore_afterwards": true,
        "refiner_checkpoint": NSNull(), "refiner_switch_at": NSNull(), "disable_extra_networks": false,
        "firstpass_image": NSNull(), "comments": NSNull(), "enable_hr": false, "firstphase_width": 0, "firstphase_height": 0,
        "hr_scale": 2.0, "hr_upscaler": NSNull(), "hr_second_pass_steps": 0, "hr_resize_x": 0, "hr_resize_y": 0,
        "hr_checkpoint_name": NSNull(), "hr_sampler_name": NSNull(), "hr_scheduler": NSNull(), "hr_prompt": "",
        "hr_negative_prompt": "", "force_task_id": NSNull(), "sampler_index": "Euler", "script_name": NSNull(),
        "script_args": [Any](), "send_images": true, "save_images": false, "alwayson_scripts": [String: Any](),
        "infotext": NSNull(),
    ]

    /// Reads a body; every problem found, or the request.
    static func parse(_ body: [String: Any], defaults: Txt2ImgDefaults) -> Result<Txt2ImgRequest, FieldProblems> {
        var r = FieldReader(body)
        let prompt = r.string("prompt", default: "") ?? ""
        let negative = r.string("negative_prompt", default: "") ?? ""
        let seed = r.int("seed", default: -1)
        let steps = r.int("steps", default: 50)
        let cfg = r.double("cfg_scale", default: 7)
        let width = body["width"].flatMap { $0 is NSNull ? nil : r.int("width", default: 0) }
        let height = body["height"].flatMap { $0 is NSNull ? nil : r.int("height", default: 0) }
        let samplerIndex = r.string("sampler_index", default: "Euler") ?? "Euler"
        let samplerName = r.string("sampler_name", default: nil)
        let schedule = r.string("scheduler", default: nil)
        let batchSize = r.int("batch_size", default: 1)
        let iterations = r.int("n_iter", default: 1)
        let sendImages = r.bool("send_images", default: true)
        var overrides = FieldReader(r.dictionary("override_settings"), path: ["override_settings"])
        let model = overrides.string("sd_model_checkpoint", default: nil).map(checkpointName) ?? defaults.model
        r.adopt(overrides.problems)
        let cutoff = r.double("guidance_cutoff", default: Double(defaults.guidanceCutoff))
        let latePassName = r.string("late_pass", default: defaults.latePass.rawValue) ?? defaults.latePass.rawValue

        if seed < -1 { r.refuse("seed", "seed must be -1 (random) or 0 and above") }
        if steps < 1 { r.refuse("steps", "steps must be at least 1") }
        if !cfg.isFinite { r.refuse("cfg_scale", "cfg_scale must be a finite number") }
        if let width, width < 8 { r.refuse("width", "width must be at least 8 pixels") }
        if let height, height < 8 { r.refuse("height", "height must be at least 8 pixels") }
        if batchSize < 1 { r.refuse("batch_size", "batch_size must be at least 1") }
        if iterations < 1 { r.refuse("n_iter", "n_iter must be at least 1") }
        if !(0...1).contains(cutoff) { r.refuse("guidance_cutoff", "guidance_cutoff must be 0...1 (the share of steps with full guidance)") }
        let latePass = LatePass(rawValue: latePassName)
        if latePass == nil { r.refuse("late_pass", "late_pass must be one of: \(LatePass.allCases.map(\.rawValue).joined(separator: ", "))") }
        refuseUnsupported(&r, body)
        var scheduler = SchedulerKind.euler
        switch SamplerNames.scheduler(sampler: samplerName ?? samplerIndex, schedule: schedule) {
        case .success(let kind): scheduler = kind
        case .failure(let refusal): r.refuse(refusal.field == "sampler_name" && samplerName == nil ? "sampler_index" : refusal.field, refusal.message)
        }
        guard r.problems.isEmpty else { return .failure(FieldProblems(all: r.problems)) }

        var echo = a1111Defaults
        for key in a1111Defaults.keys { if let value = body[key] { echo[key] = value } }
        echo["guidance_cutoff"] = cutoff
        echo["late_pass"] = latePassName
        return .success(Txt2ImgRequest(prompt: prompt, negativePrompt: negative, seed: Int64(seed), steps: steps, cfgScale: cfg,
                                       width: width, height: height, scheduler: scheduler, batchSize: batchSize,
                                       iterations: iterations, model: model, guidanceCutoff: Float(cutoff),
                                       latePass: latePass ?? .uncond, sendImages: sendImages, echo: echo))
    }

    /// Refuses A1111 features that would change the image and that sdcluster does not have.
    private static func refuseUnsupported(_ r: inout FieldReader, _ body: [String: Any]) {
        if r.bool("enable_hr", default: false) { r.refuse("enable_hr", "the hires fix (enable_hr) is not available in sdcluster; ask for the final width and height directly") }
        if r.double("subseed_strength", default: 0) != 0 { r.refuse("subseed_strength", "variation seeds (subseed_strength) are not available in sdcluster; leave it at 0") }
        if r.bool("restore_faces", default: false) { r.refuse("restore_faces", "face restoration is not available in sdcluster") }
        if r.bool("tiling", default: false) { r.refuse("tiling", "tiling is not available in sdcluster") }
        if let script = r.string("script_name", default: nil), !script.isEmpty { r.refuse("script_name", "scripts are not available in sdcluster") }
        if !r.dictionary("alwayson_scripts").isEmpty { r.refuse("alwayson_scripts", "scripts are not available in sdcluster") }
        if !r.list("styles").isEmpty { r.refuse("styles", "prompt styles are not available in sdcluster; write them into the prompt") }
        if let refiner = r.string("refiner_checkpoint", default: nil), !refiner.isEmpty, refiner != "None" {
            r.refuse("refiner_checkpoint", "refiner checkpoints are not available in sdcluster")
        }
    }

    /// A model name from an A1111 checkpoint title: "name.safetensors [hash]" -> "name".
    static func checkpointName(_ title: String) -> String {
        var name = title.trimmingCharacters(in: .whitespaces)
        if name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
            name = String(name[..<open]).trimmingCharacters(in: .whitespaces)
        }
        for suffix in [".safetensors", ".ckpt"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        return name
    }

    /// The seed used: the one given, or a random one (A1111's range, 0..<2^32) for -1.
    func resolvedSeed() -> UInt64 {
        seed == -1 ? GenerationRequest.randomSeed() : UInt64(seed)
    }

    /// The images to make, in A1111's order: image i gets seed + i.
    func generationRequests(seed: UInt64) -> [GenerationRequest] {
        (0..<imageCount).map { i in
            GenerationRequest(prompt: prompt, negativePrompt: negativePrompt, seed: seed &+ UInt64(i), steps: steps,
                              guidanceScale: Float(cfgScale), guidanceCutoff: guidanceCutoff, latePass: latePass,
                              scheduler: scheduler, width: width, height: height, model: model)
        }
    }
}
