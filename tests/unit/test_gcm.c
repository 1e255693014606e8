/*
 * Our AES-GCM inside mbedTLS (deps/mbedtls-gcm, MBEDTLS_GCM_ALT): the test
 * cases of the GCM specification (McGrew and Viega, "The Galois/Counter
 * Mode of Operation", cases 1-18: AES-128/192/256, empty and 60-byte odd
 * inputs, 8-byte and 60-byte IVs), long inputs, every way of splitting a
 * message over update calls, in place, tampering rejected with the output
 * wiped, the limits of the API, on every path the CPU has (portable, AES-NI,
 * VAES on ymm and on zmm; the others are skipped and the first test prints
 * which ran), and every path's output compared with the others' over the
 * lengths and splits that cross the wide paths' 16-block groups.
 * tests/fuzz/fuzz_gcm.c compares it with OpenSSL at random.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <mbedtls/aes.h>
#include <mbedtls/gcm.h>
#include <psa/crypto.h>

#define MAX_TEXT 4200

struct vector {
	int number;
	const char *key, *iv, *ad, *plaintext, *ciphertext, *tag;
};

/* Hex as printed in the specification; ciphertext and tag checked there
 * and against OpenSSL. */
static const struct vector vectors[] = {
	{ 1,
		"00000000000000000000000000000000",
		"000000000000000000000000",
		"",
		"",
		"",
		"58e2fccefa7e3061367f1d57a4e7455a" },
	{ 2,
		"00000000000000000000000000000000",
		"000000000000000000000000",
		"",
		"00000000000000000000000000000000",
		"0388dace60b6a392f328c2b971b2fe78",
		"ab6e47d42cec13bdf53a67b21257bddf" },
	{ 3,
		"feffe9928665731c6d6a8f9467308308",
		"cafebabefacedbaddecaf888",
		"",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
		"42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
		  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
		"4d5c2af327cd64a62cf35abd2ba6fab4" },
	{ 4,
		"feffe9928665731c6d6a8f9467308308",
		"cafebabefacedbaddecaf888",
		"feedfacedeadbeeffeedfacedeadbeefabaddad2",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		"42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
		  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
		"5bc94fbc3221a5db94fae95ae7121a47" },
	{ 5,
		"feffe9928665731c6d6a8f9467308308",
		"cafebabefacedbad",
		"feedfacedeadbeeffeedfacedeadbeefabaddad2",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		"61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423"
		  "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
		"3612d2e79e3b0785561be14aaca2fccb" },
	{ 6,
		"feffe9928665731c6d6a8f9467308308",
		"9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
		  "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
		"feedfacedeadbeeffeedfacedeadbeefabaddad2",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		"8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7"
		  "01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
		"619cc5aefffe0bfa462af43c1699d050" },
	{ 7,
		"000000000000000000000000000000000000000000000000",
		"000000000000000000000000",
		"",
		"",
		"",
		"cd33b28ac773f74ba00ed1f312572435" },
	{ 8,
		"000000000000000000000000000000000000000000000000",
		"000000000000000000000000",
		"",
		"00000000000000000000000000000000",
		"98e7247c07f0fe411c267e4384b0f600",
		"2ff58d80033927ab8ef4d4587514f0fb" },
	{ 9,
		"feffe9928665731c6d6a8f9467308308feffe9928665731c",
		"cafebabefacedbaddecaf888",
		"",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
		"3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
		  "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
		"9924a7c8587336bfb118024db8674a14" },
	{ 10,
		"feffe9928665731c6d6a8f9467308308feffe9928665731c",
		"cafebabefacedbaddecaf888",
		"feedfacedeadbeeffeedfacedeadbeefabaddad2",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		"3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
		  "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710",
		"2519498e80f1478f37ba55bd6d27618c" },
	{ 11,
		"feffe9928665731c6d6a8f9467308308feffe9928665731c",
		"cafebabefacedbad",
		"feedfacedeadbeeffeedfacedeadbeefabaddad2",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		"0f10f599ae14a154ed24b36e25324db8c566632ef2bbb34f8347280fc4507057"
		  "fddc29df9a471f75c66541d4d4dad1c9e93a19a58e8b473fa0f062f7",
		"65dcc57fcf623a24094fcca40d3533f8" },
	{ 12,
		"feffe9928665731c6d6a8f9467308308feffe9928665731c",
		"9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
		  "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
		"feedfacedeadbeeffeedfacedeadbeefabaddad2",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		"d27e88681ce3243c4830165a8fdcf9ff1de9a1d8e6b447ef6ef7b79828666e45"
		  "81e79012af34ddd9e2f037589b292db3e67c036745fa22e7e9b7373b",
		"dcf566ff291c25bbb8568fc3d376a6d9" },
	{ 13,
		"0000000000000000000000000000000000000000000000000000000000000000",
		"000000000000000000000000",
		"",
		"",
		"",
		"530f8afbc74536b9a963b4f1c4cb738b" },
	{ 14,
		"0000000000000000000000000000000000000000000000000000000000000000",
		"000000000000000000000000",
		"",
		"00000000000000000000000000000000",
		"cea7403d4d606b6e074ec5d3baf39d18",
		"d0d1c8a799996bf0265b98b5d48ab919" },
	{ 15,
		"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
		"cafebabefacedbaddecaf888",
		"",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
		"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
		"b094dac5d93471bdec1a502270e3cc6c" },
	{ 16,
		"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
		"cafebabefacedbaddecaf888",
		"feedfacedeadbeeffeedfacedeadbeefabaddad2",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
		"76fc6ece0f4e1768cddf8853bb2d551b" },
	{ 17,
		"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
		"cafebabefacedbad",
		"feedfacedeadbeeffeedfacedeadbeefabaddad2",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		"c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
		  "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
		"3a337dbf46a792c45e454913fe2ea8f2" },
	{ 18,
		"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
		"9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
		  "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
		"feedfacedeadbeeffeedfacedeadbeefabaddad2",
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		"5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
		  "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
		"a44a8266ee1c8eb0c8b5d4cf5ae9f19a" },
};

struct decoded {
	unsigned char key[32], iv[64], ad[64], plaintext[64], ciphertext[64], tag[16];
	size_t key_length, iv_length, ad_length, length, tag_length;
};

static size_t hex_decode(const char *hex, unsigned char *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned value;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &value), 1);
		out[i] = (unsigned char)value;
	}
	return n;
}

static void decode(const struct vector *v, struct decoded *d)
{
	memset(d, 0, sizeof(*d));
	d->key_length = hex_decode(v->key, d->key, sizeof(d->key));
	d->iv_length = hex_decode(v->iv, d->iv, sizeof(d->iv));
	d->ad_length = hex_decode(v->ad, d->ad, sizeof(d->ad));
	d->length = hex_decode(v->plaintext, d->plaintext, sizeof(d->plaintext));
	assert_int_equal(hex_decode(v->ciphertext, d->ciphertext, sizeof(d->ciphertext)),
			 d->length);
	d->tag_length = hex_decode(v->tag, d->tag, sizeof(d->tag));
}

#define PATHS (MBEDTLS_GCM_ALT_VAES512 + 1)

static const char *const path_names[PATHS] = { "portable", "aesni", "vaes256", "vaes512" };

static int cpu_has_acceleration(void)
{
#if defined(__x86_64__)
	unsigned int eax, ebx, ecx, edx;

	return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_AES) && (ecx & bit_PCLMUL) &&
	       (ecx & bit_SSSE3);
#else
	return 0;
#endif
}

/* The next path after `path` this CPU has, or PATHS: for (path = 0; path <
 * PATHS; path = next_path(path)).  The portable path is always there. */
static int next_path(int path)
{
	for (path++; path < PATHS; path++)
		if (mbedtls_gcm_alt_path_available(path))
			break;
	return path;
}

/* Keys ctx on the chosen path, and checks it is the path taken. */
static void setkey_on_path(mbedtls_gcm_context *ctx, const unsigned char *key, size_t key_length,
			   int path)
{
	assert_int_equal(mbedtls_gcm_alt_set_path(path), 0);
	assert_int_equal(mbedtls_gcm_setkey(ctx, MBEDTLS_CIPHER_ID_AES, key,
					    (unsigned)key_length * 8),
			 0);
	assert_int_equal(mbedtls_gcm_alt_set_path(MBEDTLS_GCM_ALT_BEST), 0);
	assert_int_equal(mbedtls_gcm_alt_path(ctx), path);
}

/* Which paths run here (printed), that the AES-NI one is there exactly when
 * CPUID says so, that the wide ones come only with it, that a path the CPU
 * lacks is refused, and that a key takes the best path by default. */
static void test_paths_available(void **state)
{
	unsigned char key[16] = { 3 };
	mbedtls_gcm_context ctx;
	int best = MBEDTLS_GCM_ALT_PORTABLE;

	(void)state;
	printf("[ INFO     ] GCM paths on this CPU:");
	for (int path = 0; path < PATHS; path = next_path(path)) {
		printf(" %s", path_names[path]);
		best = path;
	}
	printf("\n");
	assert_true(mbedtls_gcm_alt_path_available(MBEDTLS_GCM_ALT_PORTABLE));
	assert_int_equal(mbedtls_gcm_alt_path_available(MBEDTLS_GCM_ALT_AESNI),
			 cpu_has_acceleration());
	if (mbedtls_gcm_alt_path_available(MBEDTLS_GCM_ALT_VAES256) ||
	    mbedtls_gcm_alt_path_available(MBEDTLS_GCM_ALT_VAES512))
		assert_true(mbedtls_gcm_alt_path_available(MBEDTLS_GCM_ALT_AESNI));
	assert_false(mbedtls_gcm_alt_path_available(PATHS));
	assert_false(mbedtls_gcm_alt_path_available(-2));
	for (int path = -2; path <= PATHS; path++) {
		int expected = path == MBEDTLS_GCM_ALT_BEST || mbedtls_gcm_alt_path_available(path)
				       ? 0
				       : MBEDTLS_ERR_GCM_BAD_INPUT;

		assert_int_equal(mbedtls_gcm_alt_set_path(path), expected);
	}
	assert_int_equal(mbedtls_gcm_alt_set_path(MBEDTLS_GCM_ALT_BEST), 0);
	mbedtls_gcm_init(&ctx);
	assert_int_equal(mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 128), 0);
	assert_int_equal(mbedtls_gcm_alt_path(&ctx), best);
	mbedtls_gcm_free(&ctx);
}

/* Runs check on every specification vector, on a context keyed for it,
 * on every path. */
static void each_vector_on_every_path(void (*check)(mbedtls_gcm_context *ctx,
						    const struct decoded *d))
{
	for (int path = 0; path < PATHS; path = next_path(path)) {
		for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
			struct decoded d;
			mbedtls_gcm_context ctx;

			decode(&vectors[i], &d);
			mbedtls_gcm_init(&ctx);
			setkey_on_path(&ctx, d.key, d.key_length, path);
			check(&ctx, &d);
			mbedtls_gcm_free(&ctx);
		}
	}
}

static void check_encrypt(mbedtls_gcm_context *ctx, const struct decoded *d)
{
	unsigned char out[64], tag[16];

	assert_int_equal(mbedtls_gcm_crypt_and_tag(ctx, MBEDTLS_GCM_ENCRYPT, d->length, d->iv,
						   d->iv_length, d->ad, d->ad_length,
						   d->plaintext, out, 16, tag),
			 0);
	assert_memory_equal(out, d->ciphertext, d->length);
	assert_memory_equal(tag, d->tag, 16);
	/* A truncated tag is the full tag's prefix. */
	assert_int_equal(mbedtls_gcm_crypt_and_tag(ctx, MBEDTLS_GCM_ENCRYPT, d->length, d->iv,
						   d->iv_length, d->ad, d->ad_length,
						   d->plaintext, out, 12, tag),
			 0);
	assert_memory_equal(tag, d->tag, 12);
}

static void test_specification_vectors_encrypt(void **state)
{
	(void)state;
	each_vector_on_every_path(check_encrypt);
}

static void check_decrypt_in_place(mbedtls_gcm_context *ctx, const struct decoded *d)
{
	unsigned char text[64];

	memcpy(text, d->ciphertext, d->length);
	assert_int_equal(mbedtls_gcm_auth_decrypt(ctx, d->length, d->iv, d->iv_length, d->ad,
						  d->ad_length, d->tag, 16, text, text),
			 0);
	assert_memory_equal(text, d->plaintext, d->length);
}

static void test_specification_vectors_decrypt_in_place(void **state)
{
	(void)state;
	each_vector_on_every_path(check_decrypt_in_place);
}

static int decrypt_tampered(const struct decoded *d, int path, unsigned char *out)
{
	mbedtls_gcm_context ctx;
	int ret;

	memset(out, 0x55, 64);
	mbedtls_gcm_init(&ctx);
	setkey_on_path(&ctx, d->key, d->key_length, path);
	ret = mbedtls_gcm_auth_decrypt(&ctx, d->length, d->iv, d->iv_length, d->ad, d->ad_length,
				       d->tag, d->tag_length, d->ciphertext, out);
	mbedtls_gcm_free(&ctx);
	return ret;
}

static void assert_wiped(const unsigned char *out, size_t length)
{
	for (size_t i = 0; i < length; i++)
		assert_int_equal(out[i], 0);
}

static void test_tampering_is_rejected_and_output_wiped(void **state)
{
	(void)state;
	for (int path = 0; path < PATHS; path = next_path(path)) {
		for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
			struct decoded d, bad;
			unsigned char out[64];

			decode(&vectors[i], &d);
			assert_int_equal(decrypt_tampered(&d, path, out), 0);
			/* Every bit of the tag matters. */
			for (int bit = 0; bit < 128; bit += 7) {
				bad = d;
				bad.tag[bit / 8] ^= (unsigned char)(1 << bit % 8);
				assert_int_equal(decrypt_tampered(&bad, path, out),
						 MBEDTLS_ERR_GCM_AUTH_FAILED);
				assert_wiped(out, d.length);
			}
			if (d.length > 0) {
				bad = d;
				bad.ciphertext[d.length - 1] ^= 0x80;
				assert_int_equal(decrypt_tampered(&bad, path, out),
						 MBEDTLS_ERR_GCM_AUTH_FAILED);
				assert_wiped(out, d.length);
				bad = d;
				bad.length--;
				assert_int_equal(decrypt_tampered(&bad, path, out),
						 MBEDTLS_ERR_GCM_AUTH_FAILED);
			}
			bad = d;
			if (d.ad_length > 0)
				bad.ad[0] ^= 1;
			else
				bad.ad_length = 1;
			assert_int_equal(decrypt_tampered(&bad, path, out),
					 MBEDTLS_ERR_GCM_AUTH_FAILED);
			assert_wiped(out, d.length);
			bad = d;
			bad.iv[d.iv_length - 1] ^= 1;
			assert_int_equal(decrypt_tampered(&bad, path, out),
					 MBEDTLS_ERR_GCM_AUTH_FAILED);
		}
	}
}

/* Encrypts (or decrypts) d's text in pieces: the additional data split at
 * ad_split, the text at every multiple of `step`. */
static void crypt_in_pieces(mbedtls_gcm_context *ctx, int mode, const struct decoded *d,
			    size_t ad_split, size_t step, const unsigned char *in,
			    unsigned char *out, unsigned char tag[16])
{
	size_t written;

	assert_int_equal(mbedtls_gcm_starts(ctx, mode, d->iv, d->iv_length), 0);
	assert_int_equal(mbedtls_gcm_update_ad(ctx, d->ad, ad_split), 0);
	assert_int_equal(mbedtls_gcm_update_ad(ctx, d->ad + ad_split, d->ad_length - ad_split), 0);
	for (size_t at = 0; at < d->length; at += step) {
		size_t n = d->length - at < step ? d->length - at : step;

		assert_int_equal(mbedtls_gcm_update(ctx, in + at, n, out + at, n, &written), 0);
		assert_int_equal(written, n);
	}
	assert_int_equal(mbedtls_gcm_finish(ctx, NULL, 0, &written, tag, 16), 0);
	assert_int_equal(written, 0);
}

static void check_every_split(mbedtls_gcm_context *ctx, const struct decoded *d)
{
	unsigned char out[64], tag[16];

	for (size_t ad_split = 0; ad_split <= d->ad_length; ad_split++) {
		for (size_t step = 1; step <= d->length + 1; step++) {
			crypt_in_pieces(ctx, MBEDTLS_GCM_ENCRYPT, d, ad_split, step, d->plaintext,
					out, tag);
			assert_memory_equal(out, d->ciphertext, d->length);
			assert_memory_equal(tag, d->tag, 16);
			crypt_in_pieces(ctx, MBEDTLS_GCM_DECRYPT, d, ad_split, step, d->ciphertext,
					out, tag);
			assert_memory_equal(out, d->plaintext, d->length);
			assert_memory_equal(tag, d->tag, 16);
		}
	}
}

static void test_every_split_gives_the_same_result(void **state)
{
	(void)state;
	each_vector_on_every_path(check_every_split);
}

/* 4,099 bytes (16- and eight-block groups, single blocks and a partial one) with 37
 * bytes of additional data; tags computed with OpenSSL (Python's
 * cryptography 48). */
static const struct {
	unsigned key_bits;
	size_t iv_length;
	const char *tag;
} long_vectors[] = {
	{ 128, 12, "e6d8b0b21f7b34c3c20091777a517fd7" },
	{ 128, 60, "b7aaa357e8a52f2b246a097556add594" },
	{ 192, 12, "7e87e945aa1128bdd9c7935e946d4abc" },
	{ 192, 60, "c98bae346c8c10285c9ee0044f36b1f0" },
	{ 256, 12, "bd6db0af66c6526d2035bb682b079be6" },
	{ 256, 60, "34fb4b749236887b50cef5361cbc2660" },
};

static void test_long_inputs(void **state)
{
	static unsigned char plaintext[4099], out[PATHS][4099], back[4099];
	unsigned char key[32], iv[60], ad[37], tag[16], expected[16];

	(void)state;
	for (size_t i = 0; i < sizeof(plaintext); i++)
		plaintext[i] = (unsigned char)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(ad); i++)
		ad[i] = (unsigned char)(i * 13 + 1);
	for (size_t i = 0; i < sizeof(iv); i++)
		iv[i] = (unsigned char)(i * 5 + 9);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	for (size_t v = 0; v < sizeof(long_vectors) / sizeof(long_vectors[0]); v++) {
		hex_decode(long_vectors[v].tag, expected, sizeof(expected));
		for (int path = 0; path < PATHS; path = next_path(path)) {
			mbedtls_gcm_context ctx;

			mbedtls_gcm_init(&ctx);
			setkey_on_path(&ctx, key, long_vectors[v].key_bits / 8, path);
			assert_int_equal(mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT,
								   sizeof(plaintext), iv,
								   long_vectors[v].iv_length, ad,
								   sizeof(ad), plaintext,
								   out[path], 16, tag),
					 0);
			assert_memory_equal(tag, expected, 16);
			assert_int_equal(mbedtls_gcm_auth_decrypt(&ctx, sizeof(back), iv,
								  long_vectors[v].iv_length, ad,
								  sizeof(ad), expected, 16,
								  out[path], back),
					 0);
			assert_memory_equal(back, plaintext, sizeof(plaintext));
			mbedtls_gcm_free(&ctx);
			assert_memory_equal(out[path], out[0], sizeof(plaintext));
		}
	}
}

/* Encrypts (mode ENCRYPT) or decrypts `length` bytes of `in` on `path`,
 * `split` bytes per update call, into `out` or, in place, through a copy
 * of `in` in `out`. */
static void crypt_split(int path, int mode, const unsigned char *key, unsigned key_bits,
			size_t ad_length, const unsigned char *in, size_t length, size_t split,
			int in_place, unsigned char *out, unsigned char tag[16])
{
	static const unsigned char iv[12] = { 0xca, 0xfe }, ad[40] = { 0xad, 1, 2, 3 };
	mbedtls_gcm_context ctx;
	const unsigned char *from = in;
	size_t written;

	mbedtls_gcm_init(&ctx);
	setkey_on_path(&ctx, key, key_bits / 8, path);
	assert_int_equal(mbedtls_gcm_starts(&ctx, mode, iv, sizeof(iv)), 0);
	assert_int_equal(mbedtls_gcm_update_ad(&ctx, ad, ad_length), 0);
	if (in_place) {
		memcpy(out, in, length);
		from = out;
	}
	for (size_t at = 0; at < length; at += split) {
		size_t n = length - at < split ? length - at : split;

		assert_int_equal(mbedtls_gcm_update(&ctx, from + at, n, out + at, n, &written), 0);
	}
	assert_int_equal(mbedtls_gcm_finish(&ctx, NULL, 0, &written, tag, 16), 0);
	mbedtls_gcm_free(&ctx);
}

/* Every path gives the portable path's ciphertext and tag, and decrypts
 * back, for every length up to 300 bytes (the wide paths' 256-byte group,
 * plus whatever is left for the AES-NI path and the partial block) and a
 * few around two groups, split into update calls that start and end at
 * every offset of a block and of a group, in place and not, AES-128/192/256. */
static void test_every_path_agrees(void **state)
{
	static const size_t splits[] = { 1, 15, 16, 17, 255, 256, 257 };
	static const size_t longer[] = { 511, 512, 513, 767, 1024, 4099 };
	static unsigned char in[4099], out[PATHS][4099], back[4099];
	unsigned char key[32], tag[PATHS][16], back_tag[16];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 31 + 7);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 11 + 5);
	for (size_t n = 0; n <= 300 + sizeof(longer) / sizeof(longer[0]); n++) {
		size_t length = n <= 300 ? n : longer[n - 301];

		for (unsigned key_bits = 128; key_bits <= 256; key_bits += 64) {
			for (size_t s = 0; s < sizeof(splits) / sizeof(splits[0]); s++) {
				for (int in_place = 0; in_place <= 1; in_place++) {
					size_t ad_length = (length + s) % 41;

					for (int path = 0; path < PATHS; path = next_path(path)) {
						crypt_split(path, MBEDTLS_GCM_ENCRYPT, key, key_bits,
							    ad_length, in, length, splits[s],
							    in_place, out[path], tag[path]);
						assert_memory_equal(out[path], out[0], length);
						assert_memory_equal(tag[path], tag[0], 16);
						crypt_split(path, MBEDTLS_GCM_DECRYPT, key, key_bits,
							    ad_length, out[path], length, splits[s],
							    in_place, back, back_tag);
						assert_memory_equal(back, in, length);
						assert_memory_equal(back_tag, tag[0], 16);
					}
				}
			}
		}
	}
}

/* inc32 wraps the counter's last 32 bits and never carries into the IV;
 * the AES-NI path adds to a 32-bit lane eight blocks at a time, the VAES
 * paths to every 128-bit lane 16 blocks at a time.  J0 is set
 * just below the wrap through the context (the struct is public) and every
 * keystream block is checked against AES of the expected counter. */
static void test_counter_wraps_like_inc32(void **state)
{
	static unsigned char plaintext[1024], out[1024];
	unsigned char key[16] = { 7 }, iv[12] = { 1, 2, 3 }, block[16], stream[16];
	mbedtls_aes_context aes;
	size_t written;

	(void)state;
	memset(plaintext, 0xa5, sizeof(plaintext));
	mbedtls_aes_init(&aes);
	assert_int_equal(mbedtls_aes_setkey_enc(&aes, key, 128), 0);
	for (int path = 0; path < PATHS; path = next_path(path)) {
		mbedtls_gcm_context ctx;

		mbedtls_gcm_init(&ctx);
		setkey_on_path(&ctx, key, sizeof(key), path);
		assert_int_equal(mbedtls_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv, sizeof(iv)), 0);
		memset(ctx.counter + 12, 0xff, 4);
		ctx.counter[15] = 0xfa;
		/* 5 bytes first, so the wrap also falls inside whole groups
		 * that start mid-block. */
		assert_int_equal(mbedtls_gcm_update(&ctx, plaintext, 5, out, 5, &written), 0);
		assert_int_equal(mbedtls_gcm_update(&ctx, plaintext + 5, sizeof(plaintext) - 5,
						    out + 5, sizeof(plaintext) - 5, &written),
				 0);
		for (uint32_t k = 0; k < sizeof(plaintext) / 16; k++) {
			uint32_t count = 0xfffffffbu + k;

			memcpy(block, iv, 12);
			block[12] = (unsigned char)(count >> 24);
			block[13] = (unsigned char)(count >> 16);
			block[14] = (unsigned char)(count >> 8);
			block[15] = (unsigned char)count;
			assert_int_equal(mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, block,
							       stream),
					 0);
			for (int i = 0; i < 16; i++)
				assert_int_equal(out[16 * k + i], plaintext[16 * k + i] ^ stream[i]);
		}
		mbedtls_gcm_free(&ctx);
	}
	mbedtls_aes_free(&aes);
}

static void test_bad_input_is_refused(void **state)
{
	mbedtls_gcm_context ctx;
	unsigned char key[32] = { 0 }, iv[12] = { 0 }, text[64] = { 0 }, tag[16];
	size_t written;

	(void)state;
	for (int path = 0; path < PATHS; path = next_path(path)) {
		mbedtls_gcm_init(&ctx);
		assert_int_equal(mbedtls_gcm_alt_set_path(path), 0);
		assert_int_equal(mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 64),
				 MBEDTLS_ERR_GCM_BAD_INPUT);
		assert_int_equal(mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 512),
				 MBEDTLS_ERR_GCM_BAD_INPUT);
		assert_int_equal(mbedtls_gcm_alt_set_path(MBEDTLS_GCM_ALT_BEST), 0);
		setkey_on_path(&ctx, key, 16, path);
		/* IV: not empty, at most 2^64 - 1 bits. */
		assert_int_equal(mbedtls_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv, 0),
				 MBEDTLS_ERR_GCM_BAD_INPUT);
		assert_int_equal(mbedtls_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv,
						    (size_t)1 << 61),
				 MBEDTLS_ERR_GCM_BAD_INPUT);
		assert_int_equal(mbedtls_gcm_starts(&ctx, 7, iv, sizeof(iv)),
				 MBEDTLS_ERR_GCM_BAD_INPUT);
		/* Tags of 4 to 16 bytes. */
		assert_int_equal(mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, 16, iv,
							   sizeof(iv), NULL, 0, text, text, 3, tag),
				 MBEDTLS_ERR_GCM_BAD_INPUT);
		assert_int_equal(mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, 16, iv,
							   sizeof(iv), NULL, 0, text, text, 17, tag),
				 MBEDTLS_ERR_GCM_BAD_INPUT);
		assert_int_equal(mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, 16, iv,
							   sizeof(iv), NULL, 0, text, text, 4, tag),
				 0);
		/* Output too small, output overlapping input from above. */
		assert_int_equal(mbedtls_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv, sizeof(iv)), 0);
		assert_int_equal(mbedtls_gcm_update(&ctx, text, 32, text + 32, 31, &written),
				 MBEDTLS_ERR_GCM_BUFFER_TOO_SMALL);
		assert_int_equal(mbedtls_gcm_update(&ctx, text, 32, text + 1, 32, &written),
				 MBEDTLS_ERR_GCM_BAD_INPUT);
		/* Output below input is allowed (the data moves down). */
		assert_int_equal(mbedtls_gcm_update(&ctx, text + 1, 32, text, 32, &written), 0);
		/* Additional data after data; none at all is fine. */
		assert_int_equal(mbedtls_gcm_update_ad(&ctx, text, 1), MBEDTLS_ERR_GCM_BAD_INPUT);
		assert_int_equal(mbedtls_gcm_update_ad(&ctx, NULL, 0), 0);
		/* At most 2^36 - 32 bytes of data: 2^32 - 2 counter blocks. */
		assert_int_equal(mbedtls_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv, sizeof(iv)), 0);
		ctx.data_length = 0xFFFFFFFE0ull - 16;
		assert_int_equal(mbedtls_gcm_update(&ctx, text, 17, text, 17, &written),
				 MBEDTLS_ERR_GCM_BAD_INPUT);
		assert_int_equal(mbedtls_gcm_update(&ctx, text, 16, text, 16, &written), 0);
		/* At most 2^64 - 1 bits of additional data. */
		assert_int_equal(mbedtls_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv, sizeof(iv)), 0);
		ctx.ad_length = ((uint64_t)1 << 61) - 1;
		assert_int_equal(mbedtls_gcm_update_ad(&ctx, text, 1), MBEDTLS_ERR_GCM_BAD_INPUT);
		ctx.ad_length = UINT64_MAX - 1;
		assert_int_equal(mbedtls_gcm_update_ad(&ctx, text, 2), MBEDTLS_ERR_GCM_BAD_INPUT);
		mbedtls_gcm_free(&ctx);
	}
}

/* ARIA and Camellia GCM keep working (the portable path, whatever the
 * CPU and whatever path is asked for); their self-consistency is all that
 * is checked here. */
static void test_other_block_ciphers_round_trip(void **state)
{
	const mbedtls_cipher_id_t ciphers[] = { MBEDTLS_CIPHER_ID_ARIA, MBEDTLS_CIPHER_ID_CAMELLIA };
	unsigned char key[32] = { 9 }, iv[12] = { 4 }, text[100], out[100], back[100], tag[16];

	(void)state;
	memset(text, 'z', sizeof(text));
	for (size_t i = 0; i < 2 * sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		mbedtls_gcm_context ctx;
		int widest = 0;

		/* Once with the automatic choice, once forcing the widest path. */
		for (int path = 0; path < PATHS; path = next_path(path))
			widest = path;
		assert_int_equal(mbedtls_gcm_alt_set_path(i % 2 ? widest : MBEDTLS_GCM_ALT_BEST), 0);
		mbedtls_gcm_init(&ctx);
		assert_int_equal(mbedtls_gcm_setkey(&ctx, ciphers[i / 2], key, 256), 0);
		assert_int_equal(mbedtls_gcm_alt_set_path(MBEDTLS_GCM_ALT_BEST), 0);
		assert_int_equal(mbedtls_gcm_alt_path(&ctx), MBEDTLS_GCM_ALT_PORTABLE);
		assert_int_equal(mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, sizeof(text),
							   iv, sizeof(iv), NULL, 0, text, out, 16,
							   tag),
				 0);
		assert_memory_not_equal(out, text, sizeof(text));
		assert_int_equal(mbedtls_gcm_auth_decrypt(&ctx, sizeof(out), iv, sizeof(iv), NULL, 0,
							  tag, 16, out, back),
				 0);
		assert_memory_equal(back, text, sizeof(text));
		mbedtls_gcm_free(&ctx);
	}
}

/* mbedTLS's own GCM self-test (gcm.c keeps it) passes through our code. */
static void test_mbedtls_self_test(void **state)
{
	(void)state;
	assert_int_equal(mbedtls_gcm_self_test(0), 0);
	for (int path = 0; path < PATHS; path = next_path(path)) {
		assert_int_equal(mbedtls_gcm_alt_set_path(path), 0);
		assert_int_equal(mbedtls_gcm_self_test(0), 0);
	}
	assert_int_equal(mbedtls_gcm_alt_set_path(MBEDTLS_GCM_ALT_BEST), 0);
}

/* PSA (what TLS uses) reaches us: test case 4 through psa_aead_encrypt. */
static void test_psa_aead_uses_it(void **state)
{
	struct decoded d;
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_id_t id;
	unsigned char out[64 + 16];
	size_t written;

	(void)state;
	decode(&vectors[3], &d);
	assert_int_equal(psa_crypto_init(), PSA_SUCCESS);
	psa_set_key_type(&attributes, PSA_KEY_TYPE_AES);
	psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_ENCRYPT);
	psa_set_key_algorithm(&attributes, PSA_ALG_GCM);
	assert_int_equal(psa_import_key(&attributes, d.key, d.key_length, &id), PSA_SUCCESS);
	assert_int_equal(psa_aead_encrypt(id, PSA_ALG_GCM, d.iv, d.iv_length, d.ad, d.ad_length,
					  d.plaintext, d.length, out, sizeof(out), &written),
			 PSA_SUCCESS);
	assert_int_equal(written, d.length + 16);
	assert_memory_equal(out, d.ciphertext, d.length);
	assert_memory_equal(out + d.length, d.tag, 16);
	psa_destroy_key(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_available),
		cmocka_unit_test(test_specification_vectors_encrypt),
		cmocka_unit_test(test_specification_vectors_decrypt_in_place),
		cmocka_unit_test(test_tampering_is_rejected_and_output_wiped),
		cmocka_unit_test(test_every_split_gives_the_same_result),
		cmocka_unit_test(test_long_inputs),
		cmocka_unit_test(test_every_path_agrees),
		cmocka_unit_test(test_counter_wraps_like_inc32),
		cmocka_unit_test(test_bad_input_is_refused),
		cmocka_unit_test(test_other_block_ciphers_round_trip),
		cmocka_unit_test(test_mbedtls_self_test),
		cmocka_unit_test(test_psa_aead_uses_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
