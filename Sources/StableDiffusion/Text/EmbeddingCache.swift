import Compute

/// Text embeddings by id (an `EmbeddingKey.id`, or any id a coordinator chose), bounded: when
/// full, the least recently used entry goes. The local pipeline keeps its prompts' embeddings
/// here (`Value` a `Tensor`), a worker the conditionings of TASK-TEXT results and TASK-UNET
/// attachments (`TextConditioning`: an SD 1.5 embedding is 77 x 768 floats, 231 KiB, so 64
/// entries are 15 MiB; SDXL's 77 x 2048 and 1280 pooled, 622 KiB).
public struct EmbeddingCache<Value> {
    public let capacity: Int
    private var entries: [String: (value: Value, lastUse: Int)] = [:]
    private var clock = 0
    /// Lookups that found their id, and those that did not (for tests and logs).
    public private(set) var hits = 0
    public private(set) var misses = 0

    /// - Parameter capacity: entries kept, at least 1.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { entries.count }

    /// Stores `value` under `id`, dropping the least recently used entry when over capacity.
    public mutating func insert(_ value: Value, id: String) {
        clock += 1
        entries[id] = (value, clock)
        // A linear scan: capacities are hundreds, and an insert follows a text-encoder run.
        if entries.count > capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            entries[oldest] = nil
        }
    }

    /// The embedding under `id` (now the most recently used), or nil.
    public mutating func lookup(_ id: String) -> Value? {
        guard let entry = entries[id] else {
            misses += 1
            return nil
        }
        hits += 1
        clock += 1
        entries[id] = (entry.value, clock)
        return entry.value
    }

    /// Whether `id` is kept; does not count as a use.
    public func contains(_ id: String) -> Bool { entries[id] != nil }
}
