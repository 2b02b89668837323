import Compute
import StableDiffusion
@testable import Cluster

/// A small tensor with distinct, exactly representable values (also exact in bf16 when asked).
func sampleTensor(_ shape: [Int], offset: Float = 0, bf16Exact: Bool = false) -> WireTensor {
    let n = shape.reduce(1, *)
    let values = (0..<n).map { i -> Float in
        bf16Exact ? Float(i % 64) * 0.25 - 8 + offset : Float(i) * 0.001 - 0.37 + offset
    }
    return WireTensor(Tensor(shape: shape, values: values), dtype: bf16Exact ? .bf16 : .f32)
}

/// A small RGB8 image with distinct bytes.
func samplePixels(width: Int, height: Int) -> RGBPixels {
    RGBPixels(width: width, height: height, rgb: (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) })
}

enum Samples {
    static let ready = WorkerReady(name: "box-3/w1", models: [HostedModel(name: "shapes-v1", contentHash: "ab12cd")],
                                   threads: 2, maxBatch: 4)
    static let textTask = TextEncodeTask(taskId: "t1", imageId: "b1/0", model: "shapes-v1", prompt: "a red circle",
                                         negativePrompt: "blurry",
                                         outputs: [.init(slot: .cond, embeddingId: "b1/0/c"), .init(slot: .uncond, embeddingId: "b1/0/u")])
    /// A TASK-TEXT that reads its texts literally with A1111's clip skip 2.
    static let textTaskWithEncoding: TextEncodeTask = {
        var task = textTask
        task.promptSyntax = .literal
        task.clipSkip = 2
        return task
    }()
    static let textResult = TextEncodeResult(
        taskId: "t1", imageId: "b1/0",
        embeddings: [EncodedText(slot: .cond, embeddingId: "b1/0/c", conditioning: WireConditioning(embedding: sampleTensor([1, 77, 8]))),
                     EncodedText(slot: .uncond, embeddingId: "b1/0/u", conditioning: WireConditioning(embedding: sampleTensor([1, 77, 8], offset: 1)))],
        computeSeconds: 0.05)
    static let unetTask = UNetEvalTask(
        taskId: "t2", model: nil,
        items: [UNetEvalItem(imageId: "b1/0", step: 3, slot: .cond, timestep: 761, embeddingId: "b1/0/c", latent: sampleTensor([1, 4, 4, 4])),
                UNetEvalItem(imageId: "b1/0", step: 3, slot: .uncond, timestep: 761, embeddingId: "b1/0/u", latent: sampleTensor([1, 4, 4, 4])),
                UNetEvalItem(imageId: "b1/5", step: 0, slot: .cond, timestep: 999.5, embeddingId: "b1/5/c",
                             latent: sampleTensor([1, 4, 4, 4], offset: 2, bf16Exact: true))],
        embeddings: [AttachedEmbedding(embeddingId: "b1/5/c", conditioning: WireConditioning(embedding: sampleTensor([1, 77, 8], offset: 3)))])
    /// SDXL's RESULT-TEXT: each embedding with its pooled embedding.
    static let textResultSDXL = TextEncodeResult(
        taskId: "t1", imageId: "b1/0",
        embeddings: [EncodedText(slot: .cond, embeddingId: "b1/0/c",
                                 conditioning: WireConditioning(embedding: sampleTensor([1, 77, 8]), pooled: sampleTensor([1, 6], offset: 4))),
                     EncodedText(slot: .uncond, embeddingId: "b1/0/u",
                                 conditioning: WireConditioning(embedding: sampleTensor([1, 77, 8], offset: 1), pooled: sampleTensor([1, 6], offset: 5)))],
        computeSeconds: 0.05)
    /// SDXL's TASK-UNET: time ids per item, an attached conditioning with its pooled embedding.
    static let unetTaskSDXL = UNetEvalTask(
        taskId: "t2", model: "tiny-sdxl",
        items: [UNetEvalItem(imageId: "b1/0", step: 3, slot: .cond, timestep: 761, embeddingId: "b1/0/c",
                             latent: sampleTensor([1, 4, 4, 4]), timeIds: [128, 96, 0, 0, 128, 96]),
                UNetEvalItem(imageId: "b1/0", step: 3, slot: .uncond, timestep: 761, embeddingId: "b1/0/u",
                             latent: sampleTensor([1, 4, 4, 4]), timeIds: [128, 96, 0, 0, 128, 96])],
        embeddings: [AttachedEmbedding(embeddingId: "b1/0/c",
                                       conditioning: WireConditioning(embedding: sampleTensor([1, 77, 8], offset: 3), pooled: sampleTensor([1, 6], offset: 6))),
                     AttachedEmbedding(embeddingId: "b1/0/u", conditioning: WireConditioning(embedding: sampleTensor([1, 77, 8], offset: 2)))])
    static let unetResult = UNetEvalResult(
        taskId: "t2",
        items: [UNetPrediction(imageId: "b1/0", step: 3, slot: .cond, prediction: sampleTensor([1, 4, 4, 4], offset: -1)),
                UNetPrediction(imageId: "b1/0", step: 3, slot: .uncond, prediction: sampleTensor([1, 4, 4, 4], offset: -2))],
        computeSeconds: 1.25)
    static let vaeTask = VAEDecodeTask(taskId: "t3", imageId: "b1/0", model: "shapes-v1", latent: sampleTensor([1, 4, 4, 4]))
    static let vaeResult = VAEDecodeResult(taskId: "t3", imageId: "b1/0", image: samplePixels(width: 5, height: 3), computeSeconds: 0.3)
    static let requests = [
        GenerationRequest(prompt: "a red circle", negativePrompt: "blurry", seed: 42, steps: 20, guidanceScale: 7.5,
                          guidanceCutoff: 0.5, latePass: .uncond, scheduler: .ddim, width: 128, height: 128, model: "shapes-v1"),
        GenerationRequest(prompt: "a blue square", seed: UInt64.max, scheduler: .eulerAncestral),
    ]
    static let submit = SubmitBatch(clientBatchName: "prompts.jsonl", submissionId: "5f0c-uuid", requests: requests)
    static let finished = FinishedImage(batchId: "b1", index: 7, sequence: 2, state: .done, fileName: "0007-42.png",
                                        manifestLine: #"{"index":7,"seed":42}"#, png: [0x89, 0x50, 0x4E, 0x47, 1, 2, 3])
    static let failed = FinishedImage(batchId: "b1", index: 8, sequence: 3, state: .failed, fileName: nil,
                                      manifestLine: #"{"index":8}"#, error: "no worker hosts model x", png: nil)
    static let status = StatusReply(
        batches: [BatchSummary(batchId: "b1", clientBatchName: "p", state: "active", counts: ImageCounts(queued: 3, running: 1, done: 2))],
        workers: [WorkerSummary(name: "w1", models: ["shapes-v1"], liveness: 3, inFlight: 2, evaluationsDone: 100,
                               engine: "oneDNN 3.2.0 avx2 avx2 fp32")],
        evaluationsPerSecond: 1.5)
}

/// Frames of a message with one frame replaced (index into signature, type, header, payloads...).
func replacing(_ frames: [[UInt8]], at index: Int, with frame: [UInt8]) -> [[UInt8]] {
    var out = frames
    out[index] = frame
    return out
}
