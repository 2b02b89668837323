import Compute

/// The worker's text embeddings by id (TASK-TEXT results and embeddings attached to TASK-UNET),
/// so later steps of an image carry only the id. Bounded: the least recently used entries go
/// first; a task that needs an evicted one gets MISSING-EMBEDDING and the coordinator re-sends.
struct EmbeddingCache {
    let capacity: Int
    private var entries: [String: (tensor: Tensor, lastUse: Int)] = [:]
    private var clock = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    mutating func insert(_ tensor: Tensor, id: String) {
        clock += 1
        entries[id] = (tensor, clock)
        if entries.count > capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            entries[oldest] = nil
        }
    }

    mutating func lookup(_ id: String) -> Tensor? {
        guard let entry = entries[id] else { return nil }
        clock += 1
        entries[id] = (entry.tensor, clock)
        return entry.tensor
    }

    func contains(_ id: String) -> Bool { entries[id] != nil }
}
