/*
 * gcm_alt.c: Galois/Counter Mode (NIST SP 800-38D) for mbedTLS, behind
 * MBEDTLS_GCM_ALT.  Written for bottle; the API is mbedtls/gcm.h's.
 *
 * Why: mbedTLS 3.6 encrypts one AES block and does one GHASH multiply per
 * 16 bytes, each through a function call; on the machine egress is measured
 * on that is about 380 MB/s, and a bumped TLS transfer decrypts and
 * encrypts every byte, so it was crypto-bound (docs/egress-bench.md).
 *
 * Four paths, chosen per key in mbedtls_gcm_setkey() (the fastest the CPU
 * has, found with CPUID and XGETBV once; mbedtls_gcm_alt_set_path() forces
 * one for tests and benchmarks):
 *
 * - VAES + VPCLMULQDQ on zmm (AVX-512F/BW/VL, the OS saving zmm and
 *   opmask state) or on ymm (AVX2, the OS saving ymm state): the AES-NI
 *   path's algorithm with 16 blocks in flight, four or eight registers of
 *   whole 128-bit lanes, and GHASH over those 16 blocks against H^16..H^1
 *   with one reduction and Karatsuba's three multiplies per block, done
 *   next to the following group's AES rounds.  Fewer than 16 blocks, and
 *   everything else (key schedule, single blocks, the additional data), go
 *   through the AES-NI path.  Zen 4 runs the zmm one fastest (it splits each
 *   zmm operation in two, but decodes half the instructions); ymm is for
 *   CPUs with VAES but no AVX-512.
 * - AES-NI + PCLMULQDQ (x86-64): our own AES key
 *   schedule (AESKEYGENASSIST does SubWord), counter mode over 8 blocks in
 *   flight, and GHASH over 8 blocks at a time against the precomputed
 *   H^8..H^1 with one reduction per 8 blocks.  GHASH works on byte-reversed
 *   blocks (bit p of the 128-bit integer is the coefficient of x^(127-p));
 *   the carry-less product of two such values is the reversed product
 *   shifted right by one bit, so it is shifted back before reducing.
 * - Portable (other CPUs, other architectures, and ARIA or Camellia keys):
 *   the block cipher through mbedTLS's cipher layer, GHASH with the bitwise
 *   multiply of SP 800-38D Algorithm 1, made constant-time with masks.
 *   Correct, not fast.
 *
 * Partial blocks are carried across mbedtls_gcm_update() calls the way
 * mbedTLS's own gcm.c does: the bytes of an unfinished block are XORed
 * into the GHASH state and its keystream is kept until the block is full.
 */
#include <stdint.h>
#include <string.h>

#include "mbedtls/gcm.h"

#if defined(MBEDTLS_GCM_C) && defined(MBEDTLS_GCM_ALT)

#include "mbedtls/constant_time.h"
#include "mbedtls/platform_util.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define GCM_HAVE_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define GCM_HAVE_X86 0
#endif

/* SP 800-38D 5.2.1.1: at most 2^39 - 256 bits of plaintext (the 32-bit
 * counter must not wrap into J0), at most 2^64 - 1 bits of additional data
 * and of IV. */
#define GCM_MAX_DATA_BYTES 0xFFFFFFFE0ull
#define GCM_BYTES_LIMIT_SHIFT 61

/* The path mbedtls_gcm_alt_set_path() asked for, or MBEDTLS_GCM_ALT_BEST. */
static int gcm_forced_path = MBEDTLS_GCM_ALT_BEST;

static int cpu_best_path(void);

int mbedtls_gcm_alt_path_available(int path)
{
	return path >= MBEDTLS_GCM_ALT_PORTABLE && path <= cpu_best_path();
}

int mbedtls_gcm_alt_set_path(int path)
{
	if (path != MBEDTLS_GCM_ALT_BEST && !mbedtls_gcm_alt_path_available(path))
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	__atomic_store_n(&gcm_forced_path, path, __ATOMIC_RELAXED);
	return 0;
}

int mbedtls_gcm_alt_path(const mbedtls_gcm_context *ctx)
{
	return ctx->path;
}

static uint64_t load_be64(const unsigned char *p)
{
	uint64_t value = 0;

	for (int i = 0; i < 8; i++)
		value = value << 8 | p[i];
	return value;
}

static void store_be64(unsigned char *p, uint64_t value)
{
	for (int i = 7; i >= 0; i--, value >>= 8)
		p[i] = (unsigned char)value;
}

static void xor_bytes(unsigned char *out, const unsigned char *a, const unsigned char *b,
		      size_t length)
{
	for (size_t i = 0; i < length; i++)
		out[i] = a[i] ^ b[i];
}

/* The last 32 bits of a counter block, big-endian, plus one (inc32). */
static void counter_increment(unsigned char counter[16])
{
	for (int i = 15; i >= 12; i--)
		if (++counter[i] != 0)
			break;
}

/* ---- Portable path ---- */

/* x = x * h in GF(2^128), both in the specification's byte order.  No
 * branch and no table index depends on the data. */
static void portable_ghash_multiply(unsigned char x[16], const unsigned char h[16])
{
	uint64_t x_high = load_be64(x), x_low = load_be64(x + 8);
	uint64_t v_high = load_be64(h), v_low = load_be64(h + 8);
	uint64_t z_high = 0, z_low = 0;

	for (int i = 0; i < 128; i++) {
		uint64_t bit = i < 64 ? x_high >> (63 - i) : x_low >> (127 - i);
		uint64_t take = 0 - (bit & 1);
		uint64_t carry = 0 - (v_low & 1);

		z_high ^= v_high & take;
		z_low ^= v_low & take;
		v_low = v_low >> 1 | v_high << 63;
		/* R = 11100001 || 0^120 */
		v_high = v_high >> 1 ^ (0xE100000000000000ull & carry);
	}
	store_be64(x, z_high);
	store_be64(x + 8, z_low);
}

static int portable_encrypt_block(mbedtls_gcm_context *ctx, const unsigned char in[16],
				  unsigned char out[16])
{
	size_t written = 0;

	return mbedtls_cipher_update(&ctx->cipher, in, 16, out, &written);
}

/* ---- AES-NI + PCLMULQDQ path ---- */

#if GCM_HAVE_X86

#define GCM_TARGET __attribute__((target("aes,pclmul,ssse3")))
#define GCM_TARGET_YMM __attribute__((target("aes,pclmul,ssse3,avx,avx2,vaes,vpclmulqdq")))
#define GCM_TARGET_ZMM                                                                           \
	__attribute__((target("aes,pclmul,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,"      \
			      "vpclmulqdq")))

/* XCR0: the OS saves SSE and AVX state (ymm), and opmask and all of zmm. */
#define XCR0_YMM 0x06u
#define XCR0_ZMM 0xE6u

__attribute__((target("xsave"))) static uint64_t cpu_saved_state(void)
{
	return _xgetbv(0);
}

static int cpu_detect_path(void)
{
	unsigned int eax, ebx, ecx, edx, ebx7 = 0, ecx7 = 0;
	uint64_t xcr0 = 0;
	int path = MBEDTLS_GCM_ALT_PORTABLE;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return path;
	if (!(ecx & bit_AES) || !(ecx & bit_PCLMUL) || !(ecx & bit_SSSE3))
		return path;
	path = MBEDTLS_GCM_ALT_AESNI;
	/* Wide registers are usable only if the OS saves them on a context
	 * switch: XGETBV, which exists when OSXSAVE says so. */
	if (!(ecx & bit_OSXSAVE) || !(ecx & bit_AVX))
		return path;
	xcr0 = cpu_saved_state();
	if (!__get_cpuid_count(7, 0, &eax, &ebx7, &ecx7, &edx))
		return path;
	if (!(ebx7 & bit_AVX2) || !(ecx7 & bit_VAES) || !(ecx7 & bit_VPCLMULQDQ) ||
	    (xcr0 & XCR0_YMM) != XCR0_YMM)
		return path;
	path = MBEDTLS_GCM_ALT_VAES256;
	if (!(ebx7 & bit_AVX512F) || !(ebx7 & bit_AVX512BW) || !(ebx7 & bit_AVX512VL) ||
	    (xcr0 & XCR0_ZMM) != XCR0_ZMM)
		return path;
	return MBEDTLS_GCM_ALT_VAES512;
}

/* The fastest path this CPU runs, found once. */
static int cpu_best_path(void)
{
	static int cached = -1;
	int path = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (path < 0) {
		path = cpu_detect_path();
		__atomic_store_n(&cached, path, __ATOMIC_RELAXED);
	}
	return path;
}

/* H^n, 1 <= n <= MBEDTLS_GCM_ALT_POWERS: the powers are kept highest first. */
#define GCM_POWER(ctx, n) ((ctx)->h_powers[MBEDTLS_GCM_ALT_POWERS - (n)])

GCM_TARGET static inline __m128i byte_reverse(__m128i value)
{
	return _mm_shuffle_epi8(value, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
						    12, 13, 14, 15));
}

GCM_TARGET static inline __m128i load_block(const unsigned char *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

GCM_TARGET static inline void store_block(unsigned char *p, __m128i value)
{
	_mm_storeu_si128((__m128i *)(void *)p, value);
}

/* SubWord() of the key schedule: AESKEYGENASSIST's first dword is the
 * S-box applied to its second. */
GCM_TARGET static uint32_t aesni_sub_word(uint32_t word)
{
	__m128i value = _mm_set_epi32(0, 0, (int)word, 0);

	return (uint32_t)_mm_cvtsi128_si32(_mm_aeskeygenassist_si128(value, 0));
}

/* FIPS 197 KeyExpansion, one 32-bit word at a time (little-endian words,
 * so the round keys come out in the byte order AESENC takes). */
GCM_TARGET static void aesni_expand_key(mbedtls_gcm_context *ctx, const unsigned char *key,
					unsigned key_words)
{
	uint32_t words[4 * 15];
	unsigned total = 4 * (unsigned)(ctx->rounds + 1);
	uint32_t round_constant = 1;

	memcpy(words, key, 4 * key_words);
	for (unsigned i = key_words; i < total; i++) {
		uint32_t word = words[i - 1];

		if (i % key_words == 0) {
			/* RotWord moves the first byte last: in a little-endian
			 * word that is a rotation right by 8. */
			word = aesni_sub_word(word >> 8 | word << 24) ^ round_constant;
			round_constant = (round_constant << 1) ^ (0x11b & (0 - (round_constant >> 7)));
		} else if (key_words > 6 && i % key_words == 4) {
			word = aesni_sub_word(word);
		}
		words[i] = words[i - key_words] ^ word;
	}
	memcpy(ctx->round_keys, words, 4 * total);
	mbedtls_platform_zeroize(words, sizeof(words));
}

GCM_TARGET static inline __m128i aesni_encrypt(const mbedtls_gcm_context *ctx, __m128i block)
{
	block = _mm_xor_si128(block, load_block(ctx->round_keys[0]));
	for (int round = 1; round < ctx->rounds; round++)
		block = _mm_aesenc_si128(block, load_block(ctx->round_keys[round]));
	return _mm_aesenclast_si128(block, load_block(ctx->round_keys[ctx->rounds]));
}

/* Adds the 256-bit carry-less product a * b, split in three 128-bit parts
 * (low 128, the middle 128 at bit 64, high 128), to the sums. */
GCM_TARGET static inline void clmul_add(__m128i *low, __m128i *middle, __m128i *high, __m128i a,
					__m128i b)
{
	*low = _mm_xor_si128(*low, _mm_clmulepi64_si128(a, b, 0x00));
	*high = _mm_xor_si128(*high, _mm_clmulepi64_si128(a, b, 0x11));
	*middle = _mm_xor_si128(*middle, _mm_clmulepi64_si128(a, b, 0x01));
	*middle = _mm_xor_si128(*middle, _mm_clmulepi64_si128(a, b, 0x10));
}

/* value >> count as one 128-bit integer, 0 < count < 64 */
GCM_TARGET static inline __m128i shift_right_128(__m128i value, int count)
{
	return _mm_or_si128(_mm_srli_epi64(value, count),
			    _mm_slli_epi64(_mm_srli_si128(value, 8), 64 - count));
}

/*
 * The sum of products (low, middle, high) reduced modulo
 * x^128 + x^7 + x^2 + x + 1, all byte-reversed.  In that form the product's
 * high 128 bits (after the one-bit shift) hold degrees 0..127 and the low
 * 128 bits D hold degrees 128..255; x^128 = x^7 + x^2 + x + 1 folds D into
 * the high half as D ^ D>>1 ^ D>>2 ^ D>>7.  The bits those shifts push out
 * at the bottom are degrees 128..134 again; folding them (D<<127 ^ D<<126 ^
 * D<<121) into D first settles both rounds at once.
 */
GCM_TARGET static inline __m128i ghash_reduce(__m128i low, __m128i middle, __m128i high)
{
	__m128i carry_low, carry_high, spill, folded;

	low = _mm_xor_si128(low, _mm_slli_si128(middle, 8));
	high = _mm_xor_si128(high, _mm_srli_si128(middle, 8));
	/* The 256-bit [high:low] << 1. */
	carry_low = _mm_srli_epi64(low, 63);
	carry_high = _mm_srli_epi64(high, 63);
	low = _mm_or_si128(_mm_slli_epi64(low, 1), _mm_slli_si128(carry_low, 8));
	high = _mm_or_si128(_mm_or_si128(_mm_slli_epi64(high, 1), _mm_slli_si128(carry_high, 8)),
			    _mm_srli_si128(carry_low, 8));

	spill = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi64(low, 63), _mm_slli_epi64(low, 62)),
			      _mm_slli_epi64(low, 57));
	folded = _mm_xor_si128(low, _mm_slli_si128(spill, 8));
	high = _mm_xor_si128(high, folded);
	high = _mm_xor_si128(high, shift_right_128(folded, 1));
	high = _mm_xor_si128(high, shift_right_128(folded, 2));
	return _mm_xor_si128(high, shift_right_128(folded, 7));
}

GCM_TARGET static inline __m128i ghash_multiply(__m128i a, __m128i b)
{
	__m128i low = _mm_setzero_si128(), middle = low, high = low;

	clmul_add(&low, &middle, &high, a, b);
	return ghash_reduce(low, middle, high);
}

/* y = (y ^ blocks[0]) * H^8 ^ blocks[1] * H^7 ^ ... ^ blocks[7] * H, the
 * blocks in the specification's byte order. */
GCM_TARGET static inline __m128i ghash_eight(const mbedtls_gcm_context *ctx, __m128i y,
					     const __m128i blocks[8])
{
	__m128i low = _mm_setzero_si128(), middle = low, high = low;

#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		__m128i x = byte_reverse(blocks[i]);

		if (i == 0)
			x = _mm_xor_si128(x, y);
		clmul_add(&low, &middle, &high, x, load_block(GCM_POWER(ctx, 8 - i)));
	}
	return ghash_reduce(low, middle, high);
}

/* Round keys, H = E(K, 0^128) and its powers. */
GCM_TARGET static void aesni_setkey(mbedtls_gcm_context *ctx, const unsigned char *key,
				    unsigned keybits)
{
	__m128i h, power;

	ctx->rounds = 6 + (int)keybits / 32;
	aesni_expand_key(ctx, key, keybits / 32);
	h = byte_reverse(aesni_encrypt(ctx, _mm_setzero_si128()));
	power = h;
	store_block(GCM_POWER(ctx, 1), h);
	for (int n = 2; n <= MBEDTLS_GCM_ALT_POWERS; n++) {
		power = ghash_multiply(power, h);
		store_block(GCM_POWER(ctx, n), power);
	}
}

GCM_TARGET static void aesni_encrypt_block(const mbedtls_gcm_context *ctx,
					   const unsigned char in[16], unsigned char out[16])
{
	store_block(out, aesni_encrypt(ctx, load_block(in)));
}

/* state = GHASH of state and `blocks` whole blocks of data. */
GCM_TARGET static void aesni_ghash_blocks(const mbedtls_gcm_context *ctx, unsigned char state[16],
					  const unsigned char *data, size_t blocks)
{
	__m128i y = byte_reverse(load_block(state));
	__m128i h = load_block(GCM_POWER(ctx, 1));

	for (; blocks >= 8; blocks -= 8, data += 128) {
		__m128i group[8];

#pragma GCC unroll 8
		for (int i = 0; i < 8; i++)
			group[i] = load_block(data + 16 * i);
		y = ghash_eight(ctx, y, group);
	}
	for (; blocks > 0; blocks--, data += 16)
		y = ghash_multiply(_mm_xor_si128(y, byte_reverse(load_block(data))), h);
	store_block(state, byte_reverse(y));
}

/* Counter mode and GHASH over `blocks` whole blocks.  Every input block is
 * loaded before its output is stored, and output never lies above input,
 * so in-place works. */
GCM_TARGET static void aesni_crypt_blocks(mbedtls_gcm_context *ctx, const unsigned char *input,
					  unsigned char *output, size_t blocks)
{
	const __m128i one = _mm_set_epi32(0, 0, 0, 1);
	const int encrypting = ctx->mode == MBEDTLS_GCM_ENCRYPT;
	const int rounds = ctx->rounds;
	/* Byte-reversed, the counter's last 32 bits are the lowest dword, and
	 * a 32-bit add wraps exactly like inc32. */
	__m128i counter = byte_reverse(load_block(ctx->counter));
	__m128i y = byte_reverse(load_block(ctx->ghash));
	__m128i h = load_block(GCM_POWER(ctx, 1));

	for (; blocks >= 8; blocks -= 8, input += 128, output += 128) {
		__m128i stream[8], data[8], ciphertext[8];
		__m128i key = load_block(ctx->round_keys[0]);

#pragma GCC unroll 8
		for (int i = 0; i < 8; i++) {
			counter = _mm_add_epi32(counter, one);
			stream[i] = _mm_xor_si128(byte_reverse(counter), key);
		}
		for (int round = 1; round < rounds; round++) {
			key = load_block(ctx->round_keys[round]);
#pragma GCC unroll 8
			for (int i = 0; i < 8; i++)
				stream[i] = _mm_aesenc_si128(stream[i], key);
		}
		key = load_block(ctx->round_keys[rounds]);
#pragma GCC unroll 8
		for (int i = 0; i < 8; i++) {
			__m128i out;

			data[i] = load_block(input + 16 * i);
			out = _mm_xor_si128(data[i], _mm_aesenclast_si128(stream[i], key));
			store_block(output + 16 * i, out);
			ciphertext[i] = encrypting ? out : data[i];
		}
		y = ghash_eight(ctx, y, ciphertext);
	}
	for (; blocks > 0; blocks--, input += 16, output += 16) {
		__m128i data = load_block(input), out;

		counter = _mm_add_epi32(counter, one);
		out = _mm_xor_si128(data, aesni_encrypt(ctx, byte_reverse(counter)));
		store_block(output, out);
		y = ghash_multiply(_mm_xor_si128(y, byte_reverse(encrypting ? out : data)), h);
	}
	store_block(ctx->counter, byte_reverse(counter));
	store_block(ctx->ghash, byte_reverse(y));
}

/*
 * ---- VAES + VPCLMULQDQ paths ----
 *
 * The AES-NI path's algorithm on wide registers: 16 counter blocks in
 * flight (4 zmm or 8 ymm, one block per 128-bit lane) and GHASH over the
 * same 16 blocks against H^16..H^1 (the context keeps them in that order,
 * so one wide load takes the powers of consecutive blocks) with one
 * reduction: each lane's products are summed in the wide registers, the
 * lanes folded into one xmm and reduced as on the AES-NI path.  The middle
 * product is Karatsuba's (a0 ^ a1)(b0 ^ b1) ^ low ^ high, three multiplies
 * per block instead of four.  A group's GHASH is done in the next group's
 * iteration, next to AES rounds it does not depend on, so the carry-less
 * multiplier and the AES unit work at once (encrypting, the GHASH of a
 * group has to wait for its ciphertext anyway; decrypting, hashing each
 * group in its own iteration measured the same).  Fewer than 16 blocks go
 * to the AES-NI path.
 */
#define WIDE_BLOCKS 16

/* The loops over a group's registers are unrolled so that the group stays
 * in registers: as a loop over an array it stayed in memory, a load and a
 * store around every AESENC. */

/* Swaps the 64-bit halves of each lane (PSHUFD): a ^ swapped(a) has a0 ^ a1
 * in each lane's low half, Karatsuba's middle factor. */
#define SWAP_HALVES 0x4E

GCM_TARGET_ZMM static inline __m128i zmm_fold(__m512i value)
{
	__m256i half = _mm256_xor_si256(_mm512_castsi512_si256(value),
					_mm512_extracti64x4_epi64(value, 1));

	return _mm_xor_si128(_mm256_castsi256_si128(half), _mm256_extracti128_si256(half, 1));
}

/* y = GHASH of y and the 16 byte-reversed blocks of `hashed`. */
GCM_TARGET_ZMM static inline __m128i zmm_ghash(__m128i y, const __m512i hashed[4],
					       const __m512i powers[4],
					       const __m512i powers_folded[4])
{
	__m512i low = _mm512_setzero_si512(), middle = low, high = low;
	__m128i low_sum, high_sum;

#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) {
		__m512i x = hashed[j];

		if (j == 0)
			x = _mm512_xor_si512(x, _mm512_inserti32x4(_mm512_setzero_si512(), y, 0));
		low = _mm512_xor_si512(low, _mm512_clmulepi64_epi128(x, powers[j], 0x00));
		high = _mm512_xor_si512(high, _mm512_clmulepi64_epi128(x, powers[j], 0x11));
		x = _mm512_xor_si512(x, _mm512_shuffle_epi32(x, SWAP_HALVES));
		middle = _mm512_xor_si512(middle,
					  _mm512_clmulepi64_epi128(x, powers_folded[j], 0x00));
	}
	low_sum = zmm_fold(low);
	high_sum = zmm_fold(high);
	return ghash_reduce(low_sum,
			    _mm_xor_si128(zmm_fold(middle), _mm_xor_si128(low_sum, high_sum)),
			    high_sum);
}

GCM_TARGET_ZMM static void vaes512_crypt_blocks(mbedtls_gcm_context *ctx,
						const unsigned char *input, unsigned char *output,
						size_t blocks)
{
	const __m512i reverse = _mm512_broadcast_i32x4(
		_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
	const __m512i step = _mm512_broadcast_i32x4(_mm_set_epi32(0, 0, 0, WIDE_BLOCKS));
	const int encrypting = ctx->mode == MBEDTLS_GCM_ENCRYPT;
	const int rounds = ctx->rounds;
	const size_t groups = blocks / WIDE_BLOCKS;
	/* As on the AES-NI path: byte-reversed, inc32 is a 32-bit add on each
	 * lane's lowest dword. */
	const __m128i start = byte_reverse(load_block(ctx->counter));
	__m128i y = byte_reverse(load_block(ctx->ghash));
	__m512i counters[4], powers[4], powers_folded[4], hashed[4];

	if (groups == 0)
		goto tail;
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) {
		counters[j] = _mm512_add_epi32(_mm512_broadcast_i32x4(start),
					       _mm512_set_epi32(0, 0, 0, 4 * j + 4, 0, 0, 0, 4 * j + 3,
								0, 0, 0, 4 * j + 2, 0, 0, 0, 4 * j + 1));
		powers[j] = _mm512_loadu_si512((const void *)ctx->h_powers[4 * j]);
		powers_folded[j] = _mm512_xor_si512(powers[j],
						    _mm512_shuffle_epi32(powers[j], SWAP_HALVES));
	}
	for (size_t group = 0; group < groups;
	     group++, input += 16 * WIDE_BLOCKS, output += 16 * WIDE_BLOCKS) {
		__m512i stream[4];
		__m512i key = _mm512_broadcast_i32x4(load_block(ctx->round_keys[0]));

#pragma GCC unroll 4
		for (int j = 0; j < 4; j++) {
			stream[j] = _mm512_xor_si512(_mm512_shuffle_epi8(counters[j], reverse), key);
			counters[j] = _mm512_add_epi32(counters[j], step);
		}
		if (group > 0) {
			y = zmm_ghash(y, hashed, powers, powers_folded);
		}
		for (int round = 1; round < rounds; round++) {
			key = _mm512_broadcast_i32x4(load_block(ctx->round_keys[round]));
#pragma GCC unroll 4
			for (int j = 0; j < 4; j++)
				stream[j] = _mm512_aesenc_epi128(stream[j], key);
		}
		key = _mm512_broadcast_i32x4(load_block(ctx->round_keys[rounds]));
#pragma GCC unroll 4
		for (int j = 0; j < 4; j++) {
			__m512i data = _mm512_loadu_si512((const void *)(input + 64 * j));
			__m512i out = _mm512_xor_si512(data, _mm512_aesenclast_epi128(stream[j], key));

			_mm512_storeu_si512((void *)(output + 64 * j), out);
			hashed[j] = _mm512_shuffle_epi8(encrypting ? out : data, reverse);
		}
	}
	y = zmm_ghash(y, hashed, powers, powers_folded);
	store_block(ctx->counter,
		    byte_reverse(_mm_add_epi32(start, _mm_set_epi32(0, 0, 0,
								    (int)(uint32_t)(groups * WIDE_BLOCKS)))));
	store_block(ctx->ghash, byte_reverse(y));
tail:
	aesni_crypt_blocks(ctx, input, output, blocks % WIDE_BLOCKS);
}


GCM_TARGET_YMM static inline __m128i ymm_fold(__m256i value)
{
	return _mm_xor_si128(_mm256_castsi256_si128(value), _mm256_extracti128_si256(value, 1));
}

/* zmm_ghash() on ymm. */
GCM_TARGET_YMM static inline __m128i ymm_ghash(__m128i y, const __m256i hashed[8],
					       const __m256i powers[8],
					       const __m256i powers_folded[8])
{
	__m256i low = _mm256_setzero_si256(), middle = low, high = low;
	__m128i low_sum, high_sum;

#pragma GCC unroll 8
	for (int j = 0; j < 8; j++) {
		__m256i x = hashed[j];

		if (j == 0)
			x = _mm256_xor_si256(x, _mm256_zextsi128_si256(y));
		low = _mm256_xor_si256(low, _mm256_clmulepi64_epi128(x, powers[j], 0x00));
		high = _mm256_xor_si256(high, _mm256_clmulepi64_epi128(x, powers[j], 0x11));
		x = _mm256_xor_si256(x, _mm256_shuffle_epi32(x, SWAP_HALVES));
		middle = _mm256_xor_si256(middle,
					  _mm256_clmulepi64_epi128(x, powers_folded[j], 0x00));
	}
	low_sum = ymm_fold(low);
	high_sum = ymm_fold(high);
	return ghash_reduce(low_sum,
			    _mm_xor_si128(ymm_fold(middle), _mm_xor_si128(low_sum, high_sum)),
			    high_sum);
}

/* vaes512_crypt_blocks() on ymm, for the CPUs with VAES but not AVX-512 (Zen 3,
 * Alder Lake).  Zen 4 splits a zmm operation in two ymm halves, yet runs
 * the zmm path faster: half the instructions to decode and retire. */
GCM_TARGET_YMM static void vaes256_crypt_blocks(mbedtls_gcm_context *ctx,
						const unsigned char *input, unsigned char *output,
						size_t blocks)
{
	const __m256i reverse = _mm256_broadcastsi128_si256(
		_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
	const __m256i step = _mm256_broadcastsi128_si256(_mm_set_epi32(0, 0, 0, WIDE_BLOCKS));
	const int encrypting = ctx->mode == MBEDTLS_GCM_ENCRYPT;
	const int rounds = ctx->rounds;
	const size_t groups = blocks / WIDE_BLOCKS;
	const __m128i start = byte_reverse(load_block(ctx->counter));
	__m128i y = byte_reverse(load_block(ctx->ghash));
	__m256i counters[8], powers[8], powers_folded[8], hashed[8];

	if (groups == 0)
		goto tail;
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++) {
		counters[j] = _mm256_add_epi32(_mm256_broadcastsi128_si256(start),
					       _mm256_set_epi32(0, 0, 0, 2 * j + 2, 0, 0, 0, 2 * j + 1));
		powers[j] = _mm256_loadu_si256((const __m256i *)(const void *)ctx->h_powers[2 * j]);
		powers_folded[j] = _mm256_xor_si256(powers[j],
						    _mm256_shuffle_epi32(powers[j], SWAP_HALVES));
	}
	for (size_t group = 0; group < groups;
	     group++, input += 16 * WIDE_BLOCKS, output += 16 * WIDE_BLOCKS) {
		__m256i stream[8];
		__m256i key = _mm256_broadcastsi128_si256(load_block(ctx->round_keys[0]));

#pragma GCC unroll 8
		for (int j = 0; j < 8; j++) {
			stream[j] = _mm256_xor_si256(_mm256_shuffle_epi8(counters[j], reverse), key);
			counters[j] = _mm256_add_epi32(counters[j], step);
		}
		if (group > 0) {
			y = ymm_ghash(y, hashed, powers, powers_folded);
		}
		for (int round = 1; round < rounds; round++) {
			key = _mm256_broadcastsi128_si256(load_block(ctx->round_keys[round]));
#pragma GCC unroll 8
			for (int j = 0; j < 8; j++)
				stream[j] = _mm256_aesenc_epi128(stream[j], key);
		}
		key = _mm256_broadcastsi128_si256(load_block(ctx->round_keys[rounds]));
#pragma GCC unroll 8
		for (int j = 0; j < 8; j++) {
			__m256i data = _mm256_loadu_si256(
				(const __m256i *)(const void *)(input + 32 * j));
			__m256i out = _mm256_xor_si256(data, _mm256_aesenclast_epi128(stream[j], key));

			_mm256_storeu_si256((__m256i *)(void *)(output + 32 * j), out);
			hashed[j] = _mm256_shuffle_epi8(encrypting ? out : data, reverse);
		}
	}
	y = ymm_ghash(y, hashed, powers, powers_folded);
	store_block(ctx->counter,
		    byte_reverse(_mm_add_epi32(start, _mm_set_epi32(0, 0, 0,
								    (int)(uint32_t)(groups * WIDE_BLOCKS)))));
	store_block(ctx->ghash, byte_reverse(y));
tail:
	aesni_crypt_blocks(ctx, input, output, blocks % WIDE_BLOCKS);
}


/* state = state * H, in the specification's byte order. */
GCM_TARGET static void aesni_ghash_multiply_bytes(const mbedtls_gcm_context *ctx,
						  unsigned char state[16])
{
	__m128i y = byte_reverse(load_block(state));

	store_block(state, byte_reverse(ghash_multiply(y, load_block(GCM_POWER(ctx, 1)))));
}

#else /* !GCM_HAVE_X86 */

static int cpu_best_path(void)
{
	return MBEDTLS_GCM_ALT_PORTABLE;
}

#endif /* GCM_HAVE_X86 */

/* ---- What both paths share ---- */

static int gcm_encrypt_block(mbedtls_gcm_context *ctx, const unsigned char in[16],
			     unsigned char out[16])
{
#if GCM_HAVE_X86
	if (ctx->path != MBEDTLS_GCM_ALT_PORTABLE) {
		aesni_encrypt_block(ctx, in, out);
		return 0;
	}
#endif
	return portable_encrypt_block(ctx, in, out);
}

static void gcm_ghash_multiply(const mbedtls_gcm_context *ctx, unsigned char state[16])
{
#if GCM_HAVE_X86
	if (ctx->path != MBEDTLS_GCM_ALT_PORTABLE) {
		aesni_ghash_multiply_bytes(ctx, state);
		return;
	}
#endif
	portable_ghash_multiply(state, ctx->h);
}

static void gcm_ghash_blocks(const mbedtls_gcm_context *ctx, unsigned char state[16],
			     const unsigned char *data, size_t blocks)
{
#if GCM_HAVE_X86
	if (ctx->path != MBEDTLS_GCM_ALT_PORTABLE) {
		aesni_ghash_blocks(ctx, state, data, blocks);
		return;
	}
#endif
	for (; blocks > 0; blocks--, data += 16) {
		xor_bytes(state, state, data, 16);
		portable_ghash_multiply(state, ctx->h);
	}
}

static int gcm_crypt_blocks(mbedtls_gcm_context *ctx, const unsigned char *input,
			    unsigned char *output, size_t blocks)
{
	int ret = 0;
	unsigned char stream[16], ciphertext[16];

#if GCM_HAVE_X86
	switch (ctx->path) {
	case MBEDTLS_GCM_ALT_VAES512:
		vaes512_crypt_blocks(ctx, input, output, blocks);
		return 0;
	case MBEDTLS_GCM_ALT_VAES256:
		vaes256_crypt_blocks(ctx, input, output, blocks);
		return 0;
	case MBEDTLS_GCM_ALT_AESNI:
		aesni_crypt_blocks(ctx, input, output, blocks);
		return 0;
	default:
		break;
	}
#endif
	for (; blocks > 0; blocks--, input += 16, output += 16) {
		counter_increment(ctx->counter);
		ret = portable_encrypt_block(ctx, ctx->counter, stream);
		if (ret != 0)
			goto out;
		/* Decrypting in place overwrites the ciphertext: keep it. */
		memcpy(ciphertext, input, 16);
		xor_bytes(output, input, stream, 16);
		if (ctx->mode == MBEDTLS_GCM_ENCRYPT)
			memcpy(ciphertext, output, 16);
		xor_bytes(ctx->ghash, ctx->ghash, ciphertext, 16);
		portable_ghash_multiply(ctx->ghash, ctx->h);
	}
out:
	mbedtls_platform_zeroize(stream, sizeof(stream));
	return ret;
}

/* The key-dependent state, wiped; the context can be keyed again. */
static void gcm_forget_key(mbedtls_gcm_context *ctx)
{
	if (ctx->cipher_ready)
		mbedtls_cipher_free(&ctx->cipher);
	mbedtls_platform_zeroize(ctx, sizeof(*ctx));
	mbedtls_cipher_init(&ctx->cipher);
}

void mbedtls_gcm_init(mbedtls_gcm_context *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	mbedtls_cipher_init(&ctx->cipher);
}

void mbedtls_gcm_free(mbedtls_gcm_context *ctx)
{
	if (ctx == NULL)
		return;
	gcm_forget_key(ctx);
}

int mbedtls_gcm_setkey(mbedtls_gcm_context *ctx, mbedtls_cipher_id_t cipher,
		       const unsigned char *key, unsigned int keybits)
{
	int ret = MBEDTLS_ERR_GCM_BAD_INPUT;
	const mbedtls_cipher_info_t *info;
	static const unsigned char zero[16];
	int path = __atomic_load_n(&gcm_forced_path, __ATOMIC_RELAXED);

	gcm_forget_key(ctx);
	if (keybits != 128 && keybits != 192 && keybits != 256)
		goto out;
	if (path == MBEDTLS_GCM_ALT_BEST)
		path = cpu_best_path();
	if (cipher == MBEDTLS_CIPHER_ID_AES && path != MBEDTLS_GCM_ALT_PORTABLE) {
#if GCM_HAVE_X86
		aesni_setkey(ctx, key, keybits);
		ctx->path = path;
		ret = 0;
#endif
		goto out;
	}

	info = mbedtls_cipher_info_from_values(cipher, (int)keybits, MBEDTLS_MODE_ECB);
	if (info == NULL || mbedtls_cipher_info_get_block_size(info) != 16)
		goto out;
	ret = mbedtls_cipher_setup(&ctx->cipher, info);
	if (ret != 0)
		goto out;
	ctx->cipher_ready = 1;
	ret = mbedtls_cipher_setkey(&ctx->cipher, key, (int)keybits, MBEDTLS_ENCRYPT);
	if (ret != 0)
		goto out;
	ret = portable_encrypt_block(ctx, zero, ctx->h);
out:
	if (ret != 0)
		gcm_forget_key(ctx);
	return ret;
}

int mbedtls_gcm_starts(mbedtls_gcm_context *ctx, int mode, const unsigned char *iv,
		       size_t iv_len)
{
	unsigned char length_block[16] = { 0 };
	size_t whole = iv_len / 16, rest = iv_len % 16;

	if (mode != MBEDTLS_GCM_ENCRYPT && mode != MBEDTLS_GCM_DECRYPT)
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	if (iv_len == 0 || (uint64_t)iv_len >> GCM_BYTES_LIMIT_SHIFT != 0)
		return MBEDTLS_ERR_GCM_BAD_INPUT;

	ctx->mode = mode;
	ctx->data_length = 0;
	ctx->ad_length = 0;
	memset(ctx->ghash, 0, sizeof(ctx->ghash));
	memset(ctx->keystream, 0, sizeof(ctx->keystream));
	memset(ctx->counter, 0, sizeof(ctx->counter));
	if (iv_len == 12) {
		/* J0 = IV || 0^31 || 1 */
		memcpy(ctx->counter, iv, 12);
		ctx->counter[15] = 1;
	} else {
		/* J0 = GHASH(IV || 0^s || 0^64 || [len(IV)]_64) */
		gcm_ghash_blocks(ctx, ctx->counter, iv, whole);
		if (rest != 0) {
			xor_bytes(ctx->counter, ctx->counter, iv + 16 * whole, rest);
			gcm_ghash_multiply(ctx, ctx->counter);
		}
		store_be64(length_block + 8, (uint64_t)iv_len * 8);
		xor_bytes(ctx->counter, ctx->counter, length_block, 16);
		gcm_ghash_multiply(ctx, ctx->counter);
	}
	return gcm_encrypt_block(ctx, ctx->counter, ctx->tag_mask);
}

int mbedtls_gcm_update_ad(mbedtls_gcm_context *ctx, const unsigned char *add, size_t add_len)
{
	uint64_t total = ctx->ad_length + add_len;
	size_t offset = (size_t)(ctx->ad_length % 16), use;

	/* Nothing to add is fine at any time (mbedTLS's own accepts it). */
	if (add_len == 0)
		return 0;
	/* The additional data comes before the first byte of data. */
	if (ctx->data_length != 0)
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	if (total < ctx->ad_length || total >> GCM_BYTES_LIMIT_SHIFT != 0)
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	ctx->ad_length = total;

	if (offset != 0) {
		use = 16 - offset < add_len ? 16 - offset : add_len;
		xor_bytes(ctx->ghash + offset, ctx->ghash + offset, add, use);
		if (offset + use == 16)
			gcm_ghash_multiply(ctx, ctx->ghash);
		add += use;
		add_len -= use;
	}
	gcm_ghash_blocks(ctx, ctx->ghash, add, add_len / 16);
	add += add_len - add_len % 16;
	/* A partial block waits, XORed in, for more or for the end. */
	xor_bytes(ctx->ghash, ctx->ghash, add, add_len % 16);
	return 0;
}

int mbedtls_gcm_update(mbedtls_gcm_context *ctx, const unsigned char *input, size_t input_length,
		       unsigned char *output, size_t output_size, size_t *output_length)
{
	int ret = MBEDTLS_ERR_GCM_BAD_INPUT;
	size_t offset, use, whole;
	uint64_t total;

	if (output_size < input_length)
		return MBEDTLS_ERR_GCM_BUFFER_TOO_SMALL;
	*output_length = input_length;
	/* Before any pointer arithmetic on what may be NULL. */
	if (input_length == 0)
		return 0;
	/* In place is fine, and output below input, but not output partly
	 * over input that is still to be read. */
	if (output > input && (size_t)(output - input) < input_length)
		return MBEDTLS_ERR_GCM_BAD_INPUT;
	total = ctx->data_length + input_length;
	if (total < ctx->data_length || total > GCM_MAX_DATA_BYTES)
		return MBEDTLS_ERR_GCM_BAD_INPUT;

	/* The additional data's last partial block ends with the data's first
	 * byte. */
	if (ctx->data_length == 0 && ctx->ad_length % 16 != 0)
		gcm_ghash_multiply(ctx, ctx->ghash);

	offset = (size_t)(ctx->data_length % 16);
	if (offset != 0) {
		use = 16 - offset < input_length ? 16 - offset : input_length;
		if (ctx->mode == MBEDTLS_GCM_DECRYPT)
			xor_bytes(ctx->ghash + offset, ctx->ghash + offset, input, use);
		xor_bytes(output, input, ctx->keystream + offset, use);
		if (ctx->mode == MBEDTLS_GCM_ENCRYPT)
			xor_bytes(ctx->ghash + offset, ctx->ghash + offset, output, use);
		if (offset + use == 16)
			gcm_ghash_multiply(ctx, ctx->ghash);
		input += use;
		output += use;
		input_length -= use;
	}

	whole = input_length / 16;
	ret = gcm_crypt_blocks(ctx, input, output, whole);
	if (ret != 0)
		goto out;
	input += 16 * whole;
	output += 16 * whole;
	input_length -= 16 * whole;

	if (input_length != 0) {
		counter_increment(ctx->counter);
		ret = gcm_encrypt_block(ctx, ctx->counter, ctx->keystream);
		if (ret != 0)
			goto out;
		if (ctx->mode == MBEDTLS_GCM_DECRYPT)
			xor_bytes(ctx->ghash, ctx->ghash, input, input_length);
		xor_bytes(output, input, ctx->keystream, input_length);
		if (ctx->mode == MBEDTLS_GCM_ENCRYPT)
			xor_bytes(ctx->ghash, ctx->ghash, output, input_length);
	}
	ctx->data_length = total;
	ret = 0;
out:
	return ret;
}

int mbedtls_gcm_finish(mbedtls_gcm_context *ctx, unsigned char *output, size_t output_size,
		       size_t *output_length, unsigned char *tag, size_t tag_len)
{
	unsigned char length_block[16];

	/* GCM never holds back output: the argument is for other modes. */
	(void)output;
	(void)output_size;
	*output_length = 0;
	if (tag_len > 16 || tag_len < 4)
		return MBEDTLS_ERR_GCM_BAD_INPUT;

	if ((ctx->data_length == 0 && ctx->ad_length % 16 != 0) || ctx->data_length % 16 != 0)
		gcm_ghash_multiply(ctx, ctx->ghash);
	store_be64(length_block, ctx->ad_length * 8);
	store_be64(length_block + 8, ctx->data_length * 8);
	xor_bytes(ctx->ghash, ctx->ghash, length_block, 16);
	gcm_ghash_multiply(ctx, ctx->ghash);
	xor_bytes(tag, ctx->tag_mask, ctx->ghash, tag_len);
	mbedtls_platform_zeroize(ctx->keystream, sizeof(ctx->keystream));
	return 0;
}

int mbedtls_gcm_crypt_and_tag(mbedtls_gcm_context *ctx, int mode, size_t length,
			      const unsigned char *iv, size_t iv_len, const unsigned char *add,
			      size_t add_len, const unsigned char *input, unsigned char *output,
			      size_t tag_len, unsigned char *tag)
{
	int ret;
	size_t written;

	ret = mbedtls_gcm_starts(ctx, mode, iv, iv_len);
	if (ret != 0)
		return ret;
	ret = mbedtls_gcm_update_ad(ctx, add, add_len);
	if (ret != 0)
		return ret;
	ret = mbedtls_gcm_update(ctx, input, length, output, length, &written);
	if (ret != 0)
		return ret;
	return mbedtls_gcm_finish(ctx, NULL, 0, &written, tag, tag_len);
}

int mbedtls_gcm_auth_decrypt(mbedtls_gcm_context *ctx, size_t length, const unsigned char *iv,
			     size_t iv_len, const unsigned char *add, size_t add_len,
			     const unsigned char *tag, size_t tag_len, const unsigned char *input,
			     unsigned char *output)
{
	int ret;
	unsigned char expected[16];

	ret = mbedtls_gcm_crypt_and_tag(ctx, MBEDTLS_GCM_DECRYPT, length, iv, iv_len, add,
					add_len, input, output, tag_len, expected);
	if (ret != 0)
		return ret;
	if (mbedtls_ct_memcmp(tag, expected, tag_len) != 0) {
		/* Unauthenticated plaintext must not reach the caller. */
		mbedtls_platform_zeroize(output, length);
		ret = MBEDTLS_ERR_GCM_AUTH_FAILED;
	}
	mbedtls_platform_zeroize(expected, sizeof(expected));
	return ret;
}

#endif /* MBEDTLS_GCM_C && MBEDTLS_GCM_ALT */
