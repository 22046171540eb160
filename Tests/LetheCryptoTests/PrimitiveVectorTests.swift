import LetheCore
import LetheCrypto
import Testing

private func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex)! }

@Suite struct PrimitiveVectorTests {
    // RFC 5869, test cases 1 and 3.
    @Test func hkdfMatchesRFC5869() throws {
        let ikm = SecretKey(bytes: [UInt8](repeating: 0x0b, count: 22))
        let case1 = try HKDFSHA256.derive(inputKey: ikm, salt: bytes("000102030405060708090a0b0c"), info: bytes("f0f1f2f3f4f5f6f7f8f9"), count: 42)
        #expect(Hex.encode(case1.unsafeRawBytes) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        let case3 = try HKDFSHA256.derive(inputKey: ikm, salt: [], info: [], count: 42)
        #expect(Hex.encode(case3.unsafeRawBytes) == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    // RFC 4231, test cases 1 and 2.
    @Test func hmacMatchesRFC4231() throws {
        let mac1 = try HMACSHA256.authenticate(key: SecretKey(bytes: [UInt8](repeating: 0x0b, count: 20)), message: Array("Hi There".utf8))
        #expect(Hex.encode(mac1) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        let mac2 = try HMACSHA256.authenticate(key: SecretKey(bytes: Array("Jefe".utf8)), message: Array("what do ya want for nothing?".utf8))
        #expect(Hex.encode(mac2) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func sha256OfABC() throws {
        #expect(try SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let hasher = try SHA256Hasher()
        try hasher.update(Array("a".utf8))
        try hasher.update(Array("bc".utf8))
        #expect(Hex.encode(try hasher.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    // McGrew & Viega, GCM test cases 13 and 14 (256-bit zero key, zero IV).
    @Test func aesGCMKnownAnswers() throws {
        let gcm = try AESGCM()
        let key = SecretKey(bytes: [UInt8](repeating: 0, count: 32))
        let nonce = [UInt8](repeating: 0, count: 12)
        #expect(Hex.encode(try gcm.seal(key: key, nonce: nonce, plaintext: [])) == "530f8afbc74536b9a963b4f1c4cb738b")
        let sealed = try gcm.seal(key: key, nonce: nonce, plaintext: [UInt8](repeating: 0, count: 16))
        #expect(Hex.encode(sealed) == "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919")
    }

    @Test func aesGCMRoundTripWithAssociatedData() throws {
        let gcm = try AESGCM()
        let key = try SecretKey.random()
        let nonce = try SecureRandom.bytes(12)
        let plaintext = Array("bonjour, votre code est 123456".utf8)
        let aad = Array("sms.messages|body|42".utf8)
        let sealed = try gcm.seal(key: key, nonce: nonce, plaintext: plaintext, associatedData: aad)
        #expect(sealed.count == plaintext.count + 16)
        #expect(try gcm.open(key: key, nonce: nonce, sealed: sealed, associatedData: aad) == plaintext)
    }

    @Test func aesGCMDetectsEveryFlippedBit() throws {
        let gcm = try AESGCM()
        let key = try SecretKey.random()
        let nonce = try SecureRandom.bytes(12)
        let aad = Array("ctx".utf8)
        let sealed = try gcm.seal(key: key, nonce: nonce, plaintext: Array("secret text".utf8), associatedData: aad)
        for bit in 0..<(sealed.count * 8) {
            var tampered = sealed
            tampered[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(try gcm.open(key: key, nonce: nonce, sealed: tampered, associatedData: aad) == nil)
        }
        #expect(try gcm.open(key: key, nonce: nonce, sealed: sealed, associatedData: Array("other".utf8)) == nil)
        #expect(try gcm.open(key: try SecretKey.random(), nonce: nonce, sealed: sealed, associatedData: aad) == nil)
        #expect(try gcm.open(key: key, nonce: nonce, sealed: Array(sealed.prefix(10)), associatedData: aad) == nil)
    }

    @Test func randomIsNotConstant() throws {
        #expect(try SecureRandom.bytes(32) != SecureRandom.bytes(32))
        #expect(try SecureRandom.bytes(0).isEmpty)
    }

    @Test func keysNeverPrintTheirBytes() throws {
        let key = SecretKey(bytes: Array("supersecretkeymaterial0123456789".utf8))
        #expect("\(key)" == "SecretKey(32 bytes)")
        #expect(!String(reflecting: key).contains("supersecret"))
    }
}

@Suite struct ReusableHMACTests {
    // RFC 4231 test cases 1, 2 and 6 (a key longer than the block), through the precomputed-state HMAC.
    @Test func matchesRFC4231() throws {
        let one = try HMACSHA256Key(key: SecretKey(bytes: [UInt8](repeating: 0x0b, count: 20)))
        #expect(Hex.encode(try one.authenticate(Array("Hi There".utf8))) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(Hex.encode(try one.authenticate(Array("Hi There".utf8))) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        let two = try HMACSHA256Key(key: SecretKey(bytes: Array("Jefe".utf8)))
        #expect(Hex.encode(try two.authenticate(Array("what do ya want for nothing?".utf8))) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let long = try HMACSHA256Key(key: SecretKey(bytes: [UInt8](repeating: 0xaa, count: 131)))
        #expect(Hex.encode(try long.authenticate(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func reusedContextOpensWhatAnotherKeySealed() throws {
        let gcm = try AESGCM()
        let a = try SecretKey.random(), b = try SecretKey.random()
        let nonce = try gcm.randomNonce()
        let sealedA = try gcm.seal(key: a, nonce: nonce, plaintext: [1, 2, 3])
        let sealedB = try gcm.seal(key: b, nonce: nonce, plaintext: [4, 5, 6])
        #expect(try gcm.open(key: a, nonce: nonce, sealed: sealedA) == [1, 2, 3])
        #expect(try gcm.open(key: b, nonce: nonce, sealed: sealedB) == [4, 5, 6])
        #expect(try gcm.open(key: a, nonce: nonce, sealed: sealedB) == nil)
        #expect(try gcm.seal(key: a, nonce: nonce, plaintext: [1, 2, 3]) == sealedA)
        #expect(try gcm.randomNonce() != gcm.randomNonce())
    }
}
