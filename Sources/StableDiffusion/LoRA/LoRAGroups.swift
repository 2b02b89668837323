import Foundation

/// Requests grouped by the LoRA set they ask for, every set checked against the model before
/// any image is made: a prompt file that mixes sets builds one model per set, once.
///
/// Groups keep the order in which their set first appears; requests keep their order (and
/// their index in the file, which names their output) inside a group.
public struct LoRAGroups: Sendable {
    public struct Group: Sendable {
        /// Empty for requests without LoRAs (the plain model).
        public let loras: LoRASet
        /// Positions of the group's requests in the list given.
        public let indices: [Int]
    }

    public let groups: [Group]

    /// Reads every request's `<lora:...>` tags, opens each named file from `library` and matches
    /// it against `model`. Throws the first `LoRAError` (bad tag, missing file, layer the model
    /// lacks), naming the request's position.
    public init(_ requests: [GenerationRequest], library: LoRALibrary, model: ModelLocation) throws {
        var order: [[LoRAReference]] = []
        var members: [[LoRAReference]: [Int]] = [:]
        for (index, request) in requests.enumerated() {
            let references: [LoRAReference]
            do { references = try LoRASet.references(for: request) } catch {
                throw LoRARequestError(index: index, underlying: error)
            }
            if members[references] == nil { order.append(references) }
            members[references, default: []].append(index)
        }
        var groups: [Group] = []
        for references in order {
            do {
                groups.append(Group(loras: try LoRASet.resolve(references, library: library, model: model),
                                    indices: members[references]!))
            } catch {
                throw LoRARequestError(index: members[references]![0], underlying: error)
            }
        }
        self.groups = groups
    }
}

/// A LoRA problem of one request, with its position (1-based in the message).
public struct LoRARequestError: Error, CustomStringConvertible {
    public let index: Int
    public let underlying: Error

    public var description: String { "image \(index + 1): \(underlying)" }
}
