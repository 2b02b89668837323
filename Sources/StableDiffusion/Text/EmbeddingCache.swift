import Compute

/// Text embeddings by id (an `EmbeddingKey.id`, or any id a coordinator chose), bounded: when
/// full, the least recently used entry goes. The local pipeline keeps its prompts' embeddings
/// here, a worker the embeddings of TASK-TEXT results and TASK-UNET attachments (an SD 1.5
/// embedding is 77 x 768 floats, 231 KiB, so 64 entries are 15 MiB).
public struct EmbeddingCache {
    public let capacity: Int
    private var entries: [String: (tensor: Tensor, lastUse: Int)] = [:]
    private var clock = 0
    /// Lookups that found their id, and those that did not (for tests and logs).
    public private(set) var hits = 0
    public private(set) var misses = 0

    /// - Parameter capacity: entries kept, at least 1.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { entries.count }

    /// Stores `tensor` under `id`, dropping the least recently used entry when over capacity.
    public mutating func insert(_ tensor: Tensor, id: String) {
        clock += 1
        entries[id] = (tensor, clock)
        // A linear scan: capacities are hundreds, and an insert follows a text-encoder run.
        if entries.count > capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            entries[oldest] = nil
        }
    }

    /// The embedding under `id` (now the most recently used), or nil.
    public mutating func lookup(_ id: String) -> Tensor? {
        guard let entry = entries[id] else {
            misses += 1
            return nil
        }
        hits += 1
        clock += 1
        entries[id] = (entry.tensor, clock)
        return entry.tensor
    }

    /// Whether `id` is kept; does not count as a use.
    public func contains(_ id: String) -> Bool { entries[id] != nil }
}
