import XCTest
import StableDiffusion
@testable import Cluster

/// The coordinator's one record of tasks out at workers: every task is closed once, by
/// whichever comes first (its answer, its deadline, its worker leaving); after that an answer
/// to it finds nothing (a late duplicate, ignored).
final class TaskLedgerTests: XCTestCase {
    private let a: [UInt8] = Array("a".utf8), b: [UInt8] = Array("b".utf8)
    private let key = ImageKey(batchId: "b1", index: 0)

    private func text(_ id: String, at worker: [UInt8], sentAt: Double = 0, deadline: Double = 60) -> TaskRecord {
        TaskRecord(id: id, worker: worker, work: .text(key), sentAt: sentAt, deadline: deadline)
    }

    private func unet(_ id: String, at worker: [UInt8], evaluations: Int, sentAt: Double = 0, deadline: Double = 60) -> TaskRecord {
        let items = (0..<evaluations).map { (key: ImageKey(batchId: "b1", index: $0), step: 0, slot: TextSlot.cond) }
        return TaskRecord(id: id, worker: worker, work: .unet(Samples.unetTask, items: items), sentAt: sentAt, deadline: deadline)
    }

    func testAnOpenedTaskIsOutAtItsWorkerUntilItsAnswerClosesIt() {
        var ledger = TaskLedger()
        XCTAssertTrue(ledger.isIdle(a))
        ledger.open(unet("t1", at: a, evaluations: 3))
        XCTAssertEqual(ledger.count, 1)
        XCTAssertFalse(ledger.isIdle(a))
        XCTAssertTrue(ledger.isIdle(b))
        XCTAssertEqual(ledger.evaluations(of: a), 3)
        XCTAssertEqual(ledger.tasks(of: a).map(\.id), ["t1"])
        XCTAssertEqual(ledger.record("t1", at: a)?.id, "t1")
        XCTAssertEqual(ledger.close("t1", from: a)?.id, "t1")
        XCTAssertEqual(ledger.count, 0)
        XCTAssertTrue(ledger.isIdle(a))
        XCTAssertEqual(ledger.evaluations(of: a), 0)
    }

    func testAnAnswerFromAnotherWorkerOrASecondAnswerFindsNothing() {
        var ledger = TaskLedger()
        ledger.open(text("t1", at: a))
        XCTAssertNil(ledger.close("t1", from: b), "a task is answered only by the worker it is out at")
        XCTAssertNil(ledger.record("t1", at: b))
        XCTAssertEqual(ledger.count, 1, "a stranger's answer leaves the task open")
        XCTAssertNotNil(ledger.close("t1", from: a))
        XCTAssertNil(ledger.close("t1", from: a), "a late duplicate finds nothing")
        XCTAssertNil(ledger.close("unknown", from: a))
    }

    func testDroppingAWorkerClosesEveryTaskOutAtItOldestFirstAndNoOther() {
        var ledger = TaskLedger()
        ledger.open(text("t3", at: a, sentAt: 3))
        ledger.open(text("t1", at: a, sentAt: 1))
        ledger.open(text("t2", at: b, sentAt: 2))
        XCTAssertEqual(ledger.dropWorker(a).map(\.id), ["t1", "t3"])
        XCTAssertEqual(ledger.count, 1)
        XCTAssertTrue(ledger.isIdle(a))
        XCTAssertNil(ledger.close("t1", from: a), "a dropped task's late answer finds nothing")
        XCTAssertEqual(ledger.tasks(of: b).map(\.id), ["t2"])
        XCTAssertEqual(ledger.dropWorker(a).count, 0)
    }

    func testTasksPastTheirDeadlineAreClosedOldestFirst() {
        var ledger = TaskLedger()
        ledger.open(text("t1", at: a, sentAt: 0, deadline: 10))
        ledger.open(text("t2", at: b, sentAt: 1, deadline: 30))
        ledger.open(text("t3", at: b, sentAt: 2, deadline: 5))
        XCTAssertEqual(ledger.overdue(at: 10).map(\.id), ["t3"], "a deadline is passed only after it")
        XCTAssertEqual(ledger.overdue(at: 10.5).map(\.id), ["t1", "t3"])
        XCTAssertEqual(ledger.count, 3, "overdue only looks")
        XCTAssertEqual(ledger.closeOverdue(at: 10.5).map(\.id), ["t1", "t3"])
        XCTAssertEqual(ledger.count, 1)
        XCTAssertTrue(ledger.isIdle(a))
        XCTAssertNil(ledger.close("t3", from: b), "the late answer to a task past its deadline finds nothing")
        XCTAssertEqual(ledger.close("t2", from: b)?.id, "t2")
    }

    func testAnOpenTaskCanCarryMoreAndKeepsItsDeadline() {
        var ledger = TaskLedger()
        ledger.open(unet("t1", at: a, evaluations: 1, sentAt: 4, deadline: 9))
        var task = Samples.unetTask
        task.embeddings = []
        let items = [(key: key, step: 0, slot: TextSlot.cond), (key: key, step: 0, slot: TextSlot.uncond)]
        ledger.update("t1", work: .unet(task, items: items))
        let record = ledger.record("t1", at: a)
        XCTAssertEqual(record?.evaluationCount, 2)
        XCTAssertEqual(record?.deadline, 9)
        XCTAssertEqual(record?.sentAt, 4)
    }

    func testARecordNamesItsImagesOnceEach() {
        let items = [(key: key, step: 0, slot: TextSlot.cond), (key: key, step: 0, slot: TextSlot.uncond),
                     (key: ImageKey(batchId: "b1", index: 1), step: 2, slot: TextSlot.cond)]
        let record = TaskRecord(id: "t", worker: a, work: .unet(Samples.unetTask, items: items), sentAt: 0, deadline: 1)
        XCTAssertEqual(record.imageKeys, [key, ImageKey(batchId: "b1", index: 1)])
        XCTAssertEqual(text("t", at: a).imageKeys, [key])
        XCTAssertEqual(text("t", at: a).evaluationCount, 0)
    }
}
