import StableDiffusion

/// How the guided stage's two passes of one image step are placed on workers.
public enum PlacementPolicy: String, Sendable, CaseIterable, Codable {
    /// Split while there are at least as many idle workers as waiting evaluations (lowest
    /// latency), pack when the queue is deeper (fewest transfers, every worker busy anyway).
    case auto
    /// cond and uncond of a step go to two workers at once.
    case split
    /// cond and uncond of a step go to one worker, as one batch of two.
    case pack
}

/// The pure part of dispatch: which waiting evaluations one idle worker gets.
enum Placement {
    /// One image's evaluations that wait for a worker, in the order the sampler listed them.
    struct Waiting: Equatable {
        var image: Int
        var slots: [TextSlot]
    }

    /// Picks the evaluations for one idle worker out of `waiting` (oldest image first).
    /// `idleWorkers` counts this worker too; the share per worker is the waiting evaluations
    /// spread evenly over the idle workers, at most `maxBatch`. `split` gives a task at most one
    /// evaluation per image, so the other pass goes to another worker; `pack` keeps an image's
    /// passes together.
    static func choose(_ waiting: [Waiting], policy: PlacementPolicy, idleWorkers: Int, maxBatch: Int) -> [Waiting] {
        let total = waiting.reduce(0) { $0 + $1.slots.count }
        guard total > 0 else { return [] }
        let idle = max(1, idleWorkers)
        let share = max(1, min(maxBatch, (total + idle - 1) / idle))
        let split: Bool
        switch policy {
        case .split: split = true
        case .pack: split = false
        case .auto: split = total <= idle
        }
        // Packing never splits an image's step for the sake of an even share.
        let largest = waiting.map(\.slots.count).max() ?? 1
        let limit = split ? share : max(share, min(maxBatch, largest))
        var chosen: [Waiting] = []
        var taken = 0
        for entry in waiting where taken < limit && !entry.slots.isEmpty {
            let room = limit - taken
            let slots: [TextSlot]
            if split {
                slots = [entry.slots[0]]
            } else if entry.slots.count <= room {
                slots = entry.slots
            } else if taken == 0 {
                slots = Array(entry.slots.prefix(room))   // a batch smaller than one step's passes
            } else {
                continue
            }
            chosen.append(Waiting(image: entry.image, slots: slots))
            taken += slots.count
        }
        return chosen
    }
}
