import Foundation
import Keys
import LetheCore
import LetheCrypto
import Phone
import TestSupport
import Testing

@Suite struct EnvelopeTests {
    let cipher = try! AESGCM()
    let key = try! SecretKey.random()
    let context = EnvelopeContext(table: "sms.messages", column: "body", customer: 7)

    @Test func roundTripAndLayout() throws {
        let sealed = try Envelope.seal(Array("Votre code: 481516".utf8), key: key, keyId: 0x0102030405, context: context, row: 42, cipher: cipher)
        #expect(Array(sealed.prefix(4)) == Array("LTH".utf8) + [2])
        #expect(Envelope.keyId(of: sealed) == 0x0102030405)
        #expect(sealed.count == Envelope.headerSize + 18 + 16)
        #expect(try Envelope.open(sealed, key: key, context: context, row: 42, cipher: cipher) == Array("Votre code: 481516".utf8))
    }

    @Test func boundToTableColumnAndCustomer() throws {
        let sealed = try Envelope.seal(Array("x".utf8), key: key, keyId: 1, context: context, row: 42, cipher: cipher)
        for other in [EnvelopeContext(table: "sms.messages", column: "recipient", customer: 7),
                      EnvelopeContext(table: "sms.contacts", column: "body", customer: 7),
                      EnvelopeContext(table: "sms.messages", column: "body", customer: 8)] {
            #expect(try Envelope.open(sealed, key: key, context: other, row: 42, cipher: cipher) == nil)
        }
    }

    /// Issue 30, what to build 2: the text form (`lethe:v2:` and base64) of an envelope opens as the binary one; a
    /// prefix whose version disagrees with the envelope inside, or base64 that is not an envelope, is not one.
    @Test func theTextFormOpensLikeTheBinaryForm() throws {
        let sealed = try Envelope.seal(Array("Votre code: 481516".utf8), key: key, keyId: 9, context: context, row: 42, cipher: cipher)
        let text = Envelope.textForm(sealed)
        let string = try #require(String(validating: text, as: UTF8.self))
        #expect(string.hasPrefix("lethe:v2:") && Data(base64Encoded: String(string.dropFirst(9))) == Data(sealed))
        #expect(Envelope.looksSealed(text) && Envelope.keyId(of: text) == 9)
        #expect(try Envelope.open(text, key: key, context: context, row: 42, cipher: cipher) == Array("Votre code: 481516".utf8))
        #expect(try Envelope.open(text, key: key, context: context, row: 43, cipher: cipher) == nil, "still bound to its row")
        #expect(!Envelope.looksSealed(Array(("lethe:v1:" + string.dropFirst(9)).utf8)), "prefix and inner version disagree")
        #expect(!Envelope.looksSealed(Array("lethe:v2:\(Data("not an envelope at all, just forty bytes long!".utf8).base64EncodedString())".utf8)))
        #expect(!Envelope.looksSealed(Array("lethe:v2:%%%".utf8)) && !Envelope.looksSealed(Array("33612345678".utf8)))
    }

    /// Version 2 binds the row: a value copied into another row of the same customer's column does not open.
    @Test func boundToTheRowAndVersionOneStillOpens() throws {
        let sealed = try Envelope.seal(Array("x".utf8), key: key, keyId: 1, context: context, row: 42, cipher: cipher)
        #expect(try Envelope.open(sealed, key: key, context: context, row: 43, cipher: cipher) == nil)
        let legacy = try Envelope.sealUnboundForBenchmark(Array("old".utf8), key: key, keyId: 1, context: context, cipher: cipher)
        #expect(legacy[3] == 1)
        #expect(try Envelope.open(legacy, key: key, context: context, row: 7, cipher: cipher) == Array("old".utf8), "version 1 is read in any row")
    }

    /// The associated data is a format stored values depend on: it is built without strings now, and must stay the
    /// same bytes as the documented text for any row id.
    @Test func associatedDataIsTheDocumentedText() throws {
        for row: Int64 in [0, 7, 42, 1_000_000_007, Int64.max, -5] {
            let sealed = try Envelope.seal(Array("x".utf8), key: key, keyId: 1, context: context, row: row, cipher: cipher)
            let text = "lethe envelope|v2|key=1|sms.messages|body|customer=7|row=\(row)"
            let opened = try cipher.open(key: key, nonce: Array(sealed[12..<24]), sealed: Array(sealed[Envelope.headerSize...]),
                                         associatedData: Array(text.utf8))
            #expect(opened == Array("x".utf8), "row \(row)")
        }
    }

    @Test func everyFlippedByteFails() throws {
        let sealed = try Envelope.seal(Array("hello".utf8), key: key, keyId: 1, context: context, row: 42, cipher: cipher)
        for index in 4..<sealed.count {
            var tampered = sealed
            tampered[index] ^= 0x40
            #expect(try Envelope.open(tampered, key: key, context: context, row: 42, cipher: cipher) == nil, "byte \(index)")
        }
    }

    @Test func blindIndexTruncates() throws {
        let number = try PhoneNumber(parsing: "+33612345678", defaultRegion: "FR")
        let full = try BlindIndex(key: key, bits: 32)
        let tag = try full.tag(number)
        #expect(tag.count == 4)
        #expect(try full.tag(try PhoneNumber(parsing: "06 12 34 56 78", defaultRegion: "FR")) == tag)
        let twelve = try BlindIndex(key: key, bits: 12).tag(number)
        #expect(twelve.count == 2 && twelve[1] & 0x0F == 0)
        #expect(Array(twelve.prefix(1)) == Array(tag.prefix(1)))
    }
}

@Suite struct KeyringTests {
    /// In a private temporary directory the test process removes at exit.
    func path() throws -> String { try IntakeFixture.directory(prefix: "lethe-keyring") + "/keyring" }

    @Test func createsPrivateAndRefusesToOverwrite() throws {
        let file = try path()
        let keyring = try Keyring.create(at: file)
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(keyring.current.id == 1)
        do {
            _ = try Keyring.create(at: file)
            Issue.record("expected a refusal")
        } catch let error as LetheError {
            #expect(error.code == .cannotCreate)
        }
        let loaded = try Keyring.load(path: file)
        #expect(try loaded.derivedKey(.blindIndex) == keyring.derivedKey(.blindIndex))
        #expect(try loaded.derivedKey(.blindIndex) != loaded.derivedKey(.backup))
    }

    @Test func refusesAKeyringOthersCanRead() throws {
        let file = try path()
        _ = try Keyring.create(at: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: file)
        do {
            _ = try Keyring.load(path: file)
            Issue.record("expected a refusal")
        } catch let error as LetheError {
            #expect(error.code == .noPermission)
            #expect(error.message.contains("mode 640"))
        }
    }

    @Test func addingAKEKKeepsTheOldOnes() throws {
        let file = try path()
        let first = try Keyring.create(at: file)
        let second = try first.addingKEK()
        #expect(second.keks.map(\.id) == [1, 2])
        // Pending until confirmed (rotation step two): new wrapping keeps using KEK 1, in the file too.
        let loaded = try Keyring.load(path: file)
        #expect(loaded.newest.id == 2 && loaded.newest.pending && loaded.current.id == 1)
        #expect(try loaded.confirmingPending().current.id == 2)
        #expect(try Keyring.load(path: file).current.id == 2 && !Keyring.load(path: file).newest.pending)
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func legacyCBCMatchesOpenSSL() throws {
        let keyHex = "000102030405060708090a0b0c0d0e0f", ivHex = "f0e0d0c0b0a090807060504030201000"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["enc", "-aes-128-cbc", "-K", keyHex, "-iv", ivHex]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data("Rendez-vous demain à 9h".utf8))
        try input.fileHandleForWriting.close()
        let ciphertext = Array(output.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        let cbc = try LegacyAES128CBC()
        let plaintext = try cbc.decrypt(key: SecretKey(bytes: Hex.decode(keyHex)!), iv: Hex.decode(ivHex)!, ciphertext: ciphertext)
        #expect(plaintext == Array("Rendez-vous demain à 9h".utf8))
        var corrupt = ciphertext
        corrupt[corrupt.count - 1] ^= 0xFF
        #expect(try cbc.decrypt(key: SecretKey(bytes: Hex.decode(keyHex)!), iv: Hex.decode(ivHex)!, ciphertext: corrupt) == nil)
    }
}

/// Data keys rotate by calendar month: no key seals more than a month of a customer's values.
@Suite struct DataKeyRotationTests {
    @Test func aNewMonthSealsUnderANewKeyAndOldValuesStillOpen() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = try Keyring.create(at: directory + "/keyring")
        let context = EnvelopeContext(table: "sms.messages", column: "body", customer: 7)
        // One transaction: now() is its start, so both seals see the same month even at a UTC month boundary.
        try db.connection.execute("BEGIN")
        let first = try Vault(db: db.connection, keyring: keyring)
        let old = try first.seal(Array("last month".utf8), context, row: 1)
        let oldKey = try #require(Envelope.keyId(of: old))
        #expect(try Vault(db: db.connection, keyring: keyring).seal(Array("same month".utf8), context, row: 3).prefix(12) == old.prefix(12),
                "within a month, one key")
        try db.connection.execute("COMMIT")
        // The key was made last month.
        try db.connection.execute("UPDATE lethe.customer_keys SET period = (period - interval '1 month')::date WHERE key_id = $1", [.int(oldKey)])
        let second = try Vault(db: db.connection, keyring: keyring)
        let new = try second.seal(Array("this month".utf8), context, row: 2)
        let newKey = try #require(Envelope.keyId(of: new))
        #expect(newKey != oldKey)
        #expect(try second.open(old, context, row: 1) == Array("last month".utf8))
        #expect(try second.open(new, context, row: 2) == Array("this month".utf8))
        let live = try db.connection.query("SELECT count(*) AS n FROM lethe.customer_keys WHERE customer_id = 7 AND shredded_at IS NULL").single("n").int("n")
        #expect(live == 2)
        // A shred destroys every month's key.
        let shredded = try KeyAdministration(db.connection).shred(customer: 7, policy: try PolicyFixture.defaultPolicy())
        #expect(shredded.keys == 2)
        #expect(throws: LetheError.self) { _ = try Vault(db: db.connection, keyring: keyring).open(old, context, row: 1) }
    }
}
