/// How big a request may be. `standard` is what the engine can run at all (and what `generate`
/// and prompt files are held to); a coordinator takes tighter ones from its options, so that
/// one client cannot fill its workers' memory or its queue with a single request.
public struct RequestLimits: Sendable, Equatable {
    /// Most sampling steps (the schedulers' 1000 training timesteps bound them anyway).
    public var maxSteps: Int
    /// Most pixels of an image (`width * height`): the latents, the VAE's activations and the
    /// attention maps grow with it, so a width of 100000 is refused before anything is allocated.
    public var maxPixels: Int
    /// Bytes of UTF-8 a prompt or negative prompt may have. CLIP reads only 75 tokens; the bound
    /// keeps both texts, JSON-escaped in the worst case (6 bytes a byte), inside one 64 KiB
    /// TASK-TEXT header.
    public var maxTextBytes: Int

    public init(maxSteps: Int = 1000, maxPixels: Int = 4096 * 4096, maxTextBytes: Int = 4096) {
        self.maxSteps = maxSteps
        self.maxPixels = maxPixels
        self.maxTextBytes = maxTextBytes
    }

    /// The engine's own bounds.
    public static let standard = RequestLimits()
    /// A coordinator's defaults: 500 steps, 2048 x 2048 pixels, 4096 bytes of prompt.
    public static let coordinator = RequestLimits(maxSteps: 500, maxPixels: 2048 * 2048)
}
