import Foundation
import StableDiffusion

/// One image diffusers made for a fixture (`cases.json` of e2e/, sizes/, sd2/, written by
/// scripts/fixtures/*.py): the request in diffusers' terms, the PNG it wrote and what it counted.
struct DiffusersImageCase: Decodable {
    let name, prompt, negative_prompt, file, late_pass, scheduler: String
    let seed: UInt64
    let steps, width, height: Int
    let guidance_scale, guidance_cutoff: Float
    let unet_evaluations: Int
    /// The fixture model folder, where a file's cases span several (sizes/, sd2/).
    let model: String?
    let guidance_rescale: Float?
    /// sizes/ only: the latent's [h, w] and the UNet's overall up factor.
    let latent_size: [Int]?
    let unet_up_factor: Int?

    /// The cases of `relativePath` under the fixtures folder.
    static func load(_ relativePath: String) throws -> [DiffusersImageCase] {
        try JSONDecoder().decode([Self].self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path(relativePath))))
    }

    /// The same request in sdcluster's terms.
    var request: GenerationRequest {
        GenerationRequest(prompt: prompt, negativePrompt: negative_prompt, seed: seed, steps: steps,
                          guidanceScale: guidance_scale, guidanceCutoff: guidance_cutoff,
                          latePass: LatePass(rawValue: late_pass)!, scheduler: SchedulerKind(rawValue: scheduler)!,
                          width: width, height: height, guidanceRescale: guidance_rescale)
    }
}
