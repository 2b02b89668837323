import Foundation
import XCTest
import StableDiffusion
@testable import Cluster

/// CURVE with allow-lists: only listed keys get a message through, each on its own socket;
/// a refused client is told why within seconds; clients see only their own batches, admins
/// all; SIGHUP (the reload flag) re-reads the lists without a restart.
final class CurveAccessTests: XCTestCase {
    /// A coordinator key, folders of worker, client and admin public keys, and the secret key
    /// files of the peers, all under one temporary folder.
    final class Keys {
        let root: URL
        let coordinator: String

        init(_ test: XCTestCase) throws {
            root = try temporaryFolder(test).appendingPathComponent("keys")
            for folder in ["workers", "clients", "admins", "peers"] {
                try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            coordinator = root.appendingPathComponent("coordinator").path
            try KeyFiles.generate(base: coordinator, name: "coordinator")
        }

        /// A new peer whose public key is listed in `folder` (nil: listed nowhere).
        func peer(_ name: String, listedIn folder: String?) throws -> CurveCredentials {
            let base = root.appendingPathComponent("peers/\(name)").path
            try KeyFiles.generate(base: base, name: name)
            if let folder {
                try FileManager.default.copyItem(atPath: base + ".pub", toPath: root.appendingPathComponent("\(folder)/\(name).pub").path)
            }
            return try CurveCredentials(keyFile: base + ".key", coordinatorKey: coordinator + ".pub")
        }

        func unlist(_ name: String, from folder: String) throws {
            try FileManager.default.removeItem(at: root.appendingPathComponent("\(folder)/\(name).pub"))
        }

        func list(_ name: String, in folder: String) throws {
            try FileManager.default.copyItem(atPath: root.appendingPathComponent("peers/\(name).pub").path,
                                             toPath: root.appendingPathComponent("\(folder)/\(name).pub").path)
        }

        func security() throws -> CoordinatorSecurity {
            try CoordinatorSecurity(secretKeyFile: coordinator + ".key", authorizedWorkers: root.appendingPathComponent("workers").path,
                                    authorizedClients: root.appendingPathComponent("clients").path,
                                    admins: root.appendingPathComponent("admins").path)
        }
    }

    /// A coordinator with CURVE on and the allow-lists as `keys` holds them now (make the peers
    /// first); `client()` speaks as an admin.
    private func securedCluster(_ keys: Keys) throws -> InProcessCluster {
        let admin = try keys.peer("admin", listedIn: "admins")
        let security = try keys.security()
        let cluster = try InProcessCluster(self) { $0.security = security }
        cluster.clientCredentials = admin
        return cluster
    }

    private func request(_ seed: UInt64) -> GenerationRequest {
        GenerationRequest(prompt: "a red circle", seed: seed, steps: 2, width: 64, height: 64, model: SimulatedEngine.modelName)
    }

    func testOnlyListedKeysGetAMessageThroughAndRefusedClientsAreToldWhy() throws {
        let keys = try Keys(self)
        let listed = try keys.peer("alice", listedIn: "clients")
        let unlisted = try keys.peer("mallory", listedIn: nil)
        let workerKey = try keys.peer("w1", listedIn: "workers")
        let cluster = try securedCluster(keys)
        XCTAssertEqual(try cluster.client(credentials: listed).status().batches, [], "a listed client is answered")

        let started = monotonicSeconds()
        XCTAssertThrowsError(try cluster.client(giveUpAfter: 20, credentials: unlisted).status()) { error in
            guard case ClientError.handshakeFailed(_, let why) = error else { return XCTFail("expected a handshake failure, got \(error)") }
            XCTAssertTrue(why.contains("refused this client's key"), why)
        }
        XCTAssertLessThan(monotonicSeconds() - started, 5, "the refusal is reported within seconds, not after the retries")

        // A plain-TCP client never gets an answer either, and hears that CURVE is required.
        XCTAssertThrowsError(try cluster.client(giveUpAfter: 20, credentials: .some(nil)).status()) { error in
            guard case ClientError.handshakeFailed(_, let why) = error else { return XCTFail("expected a handshake failure, got \(error)") }
            XCTAssertTrue(why.contains("requires CURVE"), why)
        }

        // A worker key is no client key: the roles' sockets have separate allow-lists.
        XCTAssertThrowsError(try cluster.client(giveUpAfter: 20, credentials: workerKey).status())
    }

    func testOnlyListedWorkersJoin() throws {
        let keys = try Keys(self)
        let good = try keys.peer("good", listedIn: "workers"), rogue = try keys.peer("rogue", listedIn: nil)
        let clientKey = try keys.peer("rogue-as-client", listedIn: "clients")
        let cluster = try securedCluster(keys)
        try cluster.startWorker("good", engine: SimulatedEngine(unetSeconds: 0), credentials: good)
        try cluster.startWorker("rogue", engine: SimulatedEngine(unetSeconds: 0), credentials: rogue, waitReady: false)
        try cluster.startWorker("client-key", engine: SimulatedEngine(unetSeconds: 0),
                                credentials: clientKey, waitReady: false)
        try cluster.startWorker("plain", engine: SimulatedEngine(unetSeconds: 0), waitReady: false)
        Thread.sleep(forTimeInterval: 2)
        XCTAssertEqual(try cluster.client().status().workers.map(\.name), ["good"])
        // And the one that joined does the work.
        let outcome = try cluster.submitAndWait([request(1)])
        XCTAssertEqual(outcome.counts.done, 1)
    }

    func testClientsSeeFetchAndCancelOnlyTheirOwnBatchesAndAdminsAll() throws {
        let keys = try Keys(self)
        let w = try keys.peer("w", listedIn: "workers")
        let aliceKey = try keys.peer("alice", listedIn: "clients"), bobKey = try keys.peer("bob", listedIn: "clients")
        let cluster = try securedCluster(keys)
        try cluster.startWorker("w", engine: SimulatedEngine(unetSeconds: 0.5), credentials: w)
        let alice = try cluster.client(credentials: aliceKey)
        let bob = try cluster.client(credentials: bobKey)
        let admin = try cluster.client()

        let submission = SubmitBatch(clientBatchName: "alice's", submissionId: UUID().uuidString, requests: [request(1), request(2)])
        let mine = try alice.submit(submission).batchId
        XCTAssertEqual(try alice.status().batches.map(\.batchId), [mine])
        XCTAssertEqual(try bob.status().batches.map(\.batchId), [], "bob does not see alice's batch")
        XCTAssertEqual(try admin.status().batches.map(\.batchId), [mine], "the admin sees every batch")
        for attempt in [{ _ = try bob.status(batchId: mine) }, { _ = try bob.cancel(batchId: mine) },
                        { _ = try bob.fetch(batchId: mine, since: 0, waitSeconds: 0) }] {
            XCTAssertThrowsError(try attempt()) { error in
                guard case ClientError.refused(let reply) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(reply.code, .unknownBatch, "another client's batch looks like no batch")
            }
        }
        // Bob cannot take over alice's submission id (a retry of his would otherwise get her batch).
        XCTAssertThrowsError(try bob.submit(SubmitBatch(clientBatchName: "bob's", submissionId: submission.submissionId,
                                                        requests: [request(3)])))
        XCTAssertEqual(try alice.submit(submission).batchId, mine, "alice's own retry still gets her batch")

        let cancelled = try admin.cancel(batchId: mine)
        XCTAssertEqual(cancelled.batchId, mine)
        XCTAssertEqual(try alice.status(batchId: mine).batches.first?.state, "cancelled")
    }

    func testReloadAdmitsNewKeysAndShutsOutRemovedOnes() throws {
        let keys = try Keys(self)
        let carol = try keys.peer("carol", listedIn: nil)
        let bob = try keys.peer("bob", listedIn: "clients")
        let cluster = try securedCluster(keys)
        XCTAssertThrowsError(try cluster.client(giveUpAfter: 10, credentials: carol).status())

        try keys.list("carol", in: "clients")
        let bobClient = try cluster.client(credentials: bob)
        XCTAssertNoThrow(try bobClient.status())
        try keys.unlist("bob", from: "clients")
        cluster.reload.raise()
        try waitUntil(5, "carol to be admitted after the reload") { (try? cluster.client(giveUpAfter: 3, credentials: carol).status()) != nil }
        // Bob's connection is still open, but what he sends no longer counts.
        XCTAssertThrowsError(try bobClient.status()) { error in
            guard case ClientError.refused(let reply) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reply.code, .notAuthorized)
        }
    }

    func testAWorkerWhoseKeyIsRemovedIsDroppedAtTheReload() throws {
        let keys = try Keys(self)
        let w = try keys.peer("w", listedIn: "workers")
        let cluster = try securedCluster(keys)
        try cluster.startWorker("w", engine: SimulatedEngine(unetSeconds: 0), credentials: w)
        try keys.unlist("w", from: "workers")
        cluster.reload.raise()
        let admin = try cluster.client()
        try waitUntil(5, "the unlisted worker to be dropped") { try admin.status().workers.isEmpty }
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertTrue(try admin.status().workers.isEmpty, "its reconnections are refused at the handshake")
    }

    func testABadAllowListKeepsTheOldOneInForce() throws {
        let keys = try Keys(self)
        let aliceKey = try keys.peer("alice", listedIn: "clients")
        let cluster = try securedCluster(keys)
        try Data("".utf8).write(to: keys.root.appendingPathComponent("clients/new.pub"))
        let alice = try cluster.client(credentials: aliceKey)
        XCTAssertNoThrow(try alice.status())
        try Data("not-a-key alice\n".utf8).write(to: keys.root.appendingPathComponent("clients/typo.pub"))
        cluster.reload.raise()
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertNoThrow(try alice.status(), "a typo in one file does not lock everyone out")
    }
}

/// The real processes: `sdcluster keygen`, a coordinator with `--curve-secret` and allow-list
/// folders, SIGHUP, and `sdcluster status --key --coordinator-key`.
final class CurveProcessTests: XCTestCase {
    func testSighupAdmitsAKeyAddedToTheFolderAndTheCLITakesKeyFiles() throws {
        let cluster = try LocalCluster(self)
        let keys = cluster.folder.appendingPathComponent("keys")
        for folder in ["workers", "clients"] {
            try FileManager.default.createDirectory(at: keys.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let coordinator = keys.appendingPathComponent("coordinator").path
        let alice = keys.appendingPathComponent("alice").path
        for base in [coordinator, alice] {
            let made = try runCommand(cluster.binary, ["keygen", base])
            XCTAssertEqual(made.status, 0, made.output)
            XCTAssertTrue(made.output.contains("public key: "), made.output)
        }
        try cluster.startCoordinator(["--curve-secret", coordinator + ".key",
                                      "--authorized-workers", keys.appendingPathComponent("workers").path,
                                      "--authorized-clients", keys.appendingPathComponent("clients").path])
        let status = ["status", "--coordinator", cluster.clientsEndpoint, "--key", alice + ".key", "--coordinator-key", coordinator + ".pub"]
        let refused = try runCommand(cluster.binary, status)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("refused this client's key"), refused.output)

        try FileManager.default.copyItem(atPath: alice + ".pub", toPath: keys.appendingPathComponent("clients/alice.pub").path)
        XCTAssertEqual(kill(try XCTUnwrap(cluster.coordinator).processIdentifier, SIGHUP), 0)
        try waitUntil(10, "alice to be admitted after SIGHUP") { try runCommand(cluster.binary, status).status == 0 }
        let admitted = try runCommand(cluster.binary, status)
        XCTAssertTrue(admitted.output.contains("batches:"), admitted.output)
        XCTAssertTrue(cluster.coordinator?.isRunning == true, "SIGHUP does not end the coordinator")
        XCTAssertTrue(cluster.log("coordinator-1").contains("SIGHUP: keys reloaded: 0 worker key(s)"), cluster.log("coordinator-1"))
    }
}

/// Key files and allow-lists on their own.
final class KeyFileTests: XCTestCase {
    func testKeygenWritesAPrivateSecretFileWhosePublicKeyMatches() throws {
        let folder = try temporaryFolder(self)
        let base = folder.appendingPathComponent("w1").path
        let publicKey = try KeyFiles.generate(base: base, name: "w1")
        var info = stat()
        XCTAssertEqual(stat(base + ".key", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        let pair = try KeyFiles.readSecret(base + ".key")
        XCTAssertEqual(pair.publicKey.z85, publicKey)
        XCTAssertEqual(try KeyFiles.readPublic(base + ".pub").z85, publicKey)
        XCTAssertEqual(try KeyFiles.readPublic(publicKey).z85, publicKey, "the key itself works in place of its file")
        XCTAssertThrowsError(try KeyFiles.generate(base: base, name: "w1"), "no overwrite without --force")
        XCTAssertNotEqual(try KeyFiles.generate(base: base, name: "w1", overwrite: true), publicKey)
    }

    func testASecretKeyOthersCanReadIsRefused() throws {
        let base = try temporaryFolder(self).appendingPathComponent("k").path
        try KeyFiles.generate(base: base, name: "k")
        chmod(base + ".key", 0o644)
        XCTAssertThrowsError(try KeyFiles.readSecret(base + ".key")) { error in
            XCTAssertTrue("\(error)".contains("chmod 600"), "\(error)")
        }
    }

    func testAllowListsReadFoldersAndFilesAndNameTheBadLine() throws {
        let folder = try temporaryFolder(self)
        let a = try CurveKeyPair.generate().publicKey, b = try CurveKeyPair.generate().publicKey
        let dir = folder.appendingPathComponent("dir")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("# comment\n\(a.z85)\n".utf8).write(to: dir.appendingPathComponent("box-a.pub"))
        try Data("ignored: not a .pub file\n".utf8).write(to: dir.appendingPathComponent("README"))
        let fromDir = try AllowList.load(dir.path)
        XCTAssertEqual(fromDir.names, [a: "box-a"])

        let file = folder.appendingPathComponent("clients.txt")
        try Data("# clients\n\(a.z85) alice laptop\n\n  \(b.z85)\n".utf8).write(to: file)
        let fromFile = try AllowList.load(file.path)
        XCTAssertEqual(fromFile.names[a], "alice laptop")
        XCTAssertEqual(fromFile.names[b], String(b.z85.prefix(8)))

        try Data("\(a.z85)\nnonsense here\n".utf8).write(to: file)
        XCTAssertThrowsError(try AllowList.load(file.path)) { error in
            XCTAssertEqual(error as? SecurityError, .allowList(path: file.path, line: 2, "'nonsense' is not a CURVE public key (40 characters of Z85, as in a .pub file)"))
        }
        XCTAssertThrowsError(try AllowList.load(folder.appendingPathComponent("missing").path))
    }
}
