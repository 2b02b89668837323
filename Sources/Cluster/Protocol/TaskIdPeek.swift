/// The task a refused message is about, when it can still be told: frames 0-2 pass the
/// signature and type checks, the type is one of `types`, and the header is a JSON object with a
/// non-empty string `taskId` (whatever else is wrong with it or its payloads, an oversized
/// header included: it is already in memory, within the socket's message limit). Lets a refusal
/// count as a failed attempt of that task at once instead of waiting for its deadline.
enum TaskIdPeek {
    static func taskId(in frames: [[UInt8]], types: Set<MessageType>) -> String? {
        var relaxed = ProtocolLimits.standard
        relaxed.maxHeaderBytes = Int(relaxed.socketMaxMessageSize)
        guard let wire = try? WireFrames.parse(frames, limits: relaxed), types.contains(wire.type),
              let header = try? HeaderCoding.decode(TaskIdHeader.self, from: wire.header),
              let taskId = header.taskId, !taskId.isEmpty else { return nil }
        return taskId
    }

    private struct TaskIdHeader: Decodable {
        var taskId: String?

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            taskId = try? container.decodeIfPresent(String.self, forKey: .taskId)
        }

        enum CodingKeys: String, CodingKey { case taskId }
    }
}

extension WorkerToCoordinator {
    /// The types that answer a task: results, MISSING-EMBEDDING and ERROR.
    static let taskAnswerTypes: Set<MessageType> = [.textEncodeResult, .unetResult, .vaeDecodeResult, .missingEmbedding, .error]

    /// The task a refused worker message answers (see `TaskIdPeek`).
    static func answeredTaskId(_ frames: [[UInt8]]) -> String? {
        TaskIdPeek.taskId(in: frames, types: taskAnswerTypes)
    }
}

extension CoordinatorToWorker {
    /// The types that carry a task.
    static let taskTypes: Set<MessageType> = [.textEncodeTask, .unetTask, .vaeDecodeTask]

    /// The task a message the worker refused carries (see `TaskIdPeek`).
    static func taskId(ofRefused frames: [[UInt8]]) -> String? {
        TaskIdPeek.taskId(in: frames, types: taskTypes)
    }
}
