import Foundation
import StableDiffusion

/// Requests naming LoRAs (`<lora:...>` tags in the prompt): they go to workers that host the
/// model and identical copies of every LoRA named (`worker --lora-dir`), and their tasks name the
/// model with its LoRA set (`LoRAVariant`), so workers build the right pipeline and UNet batches
/// never mix sets. The VAE, which no LoRA changes, decodes under the plain model's name.
extension Coordinator {
    /// The LoRAs a stored request names (tags were checked when it was submitted).
    private func loras(of request: GenerationRequest) -> [LoRAReference] {
        (try? LoRASet.references(for: request)) ?? []
    }

    /// The model name a request's text and UNet tasks carry: the model, plus its LoRA tags.
    func modelKey(_ request: GenerationRequest) -> String? {
        resolvedModel(request.model).map { LoRAVariant.name(model: $0, loras: loras(of: request)) }
    }

    /// The model a request samples with: the plain model's, or for a LoRA set the same sampling
    /// info under a content hash covering the LoRA files (which keys its shared embeddings).
    /// nil while the model or one of the LoRAs is not known (no worker announced it yet).
    func knownModel(_ request: GenerationRequest) -> KnownModel? {
        guard let name = resolvedModel(request.model), let known = models[name] else { return nil }
        let references = loras(of: request)
        guard !references.isEmpty else { return known }
        var files: [(reference: LoRAReference, fileHash: String)] = []
        for reference in references {
            guard let hash = knownLoRAs[reference.name] else { return nil }
            files.append((reference, hash))
        }
        return KnownModel(name: LoRAVariant.name(model: name, loras: references),
                          contentHash: LoRAVariant.contentHash(modelHash: known.contentHash, loras: files), info: known.info,
                          vae: known.vae)
    }

    /// The PNG fields `generate` writes for the request's LoRAs and the model's external VAE
    /// (`Lora hashes` only when every LoRA's worker reported its hash).
    func weightFields(_ request: GenerationRequest) -> [GenerationParameters.Field] {
        let known = resolvedModel(request.model).flatMap { models[$0] }
        let references = loras(of: request)
        let hashes = references.compactMap { reference in loraShortHashes[reference.name].map { (reference.name, $0) } }
        return GenerationParameters.weightFields(loraHashes: hashes.count == references.count ? hashes : [],
                                                 vae: known?.vae.map { ($0.name, $0.shortHash) })
    }

    /// Whether `worker` hosts the job's model (the cluster's copy) and the cluster's copy of each
    /// of its LoRAs.
    func serves(_ worker: WorkerRecord, _ job: ImageJob) -> Bool {
        guard let name = resolvedModel(job.request.model), let known = models[name],
              worker.hosts(name, hash: known.contentHash) else { return false }
        let offered = worker.ready.loras ?? []
        return loras(of: job.request).allSatisfy { reference in
            guard let hash = knownLoRAs[reference.name] else { return false }
            return offered.contains { $0.name == reference.name && $0.contentHash == hash }
        }
    }

    /// Why a submitted request's LoRAs cannot be served now (no usable worker with the model and
    /// every LoRA), or nil when they can (or it names none). Its tags were checked before.
    func loraProblem(_ request: GenerationRequest, model name: String, hash: String) -> String? {
        let references = loras(of: request)
        guard !references.isEmpty else { return nil }
        let usable = workers.values.filter { $0.isUsable && $0.hosts(name, hash: hash) }
        for reference in references {
            guard let known = knownLoRAs[reference.name],
                  usable.contains(where: { ($0.ready.loras ?? []).contains { $0.name == reference.name && $0.contentHash == known } }) else {
                return "no connected worker with model '\(name)' has LoRA '\(reference.name)'; start workers with --lora-dir DIR holding \(reference.name).safetensors"
            }
        }
        return nil
    }
}
