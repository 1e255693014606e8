/*
 * Differential fuzzing of our AES-GCM (deps/mbedtls-gcm, inside mbedTLS as
 * MBEDTLS_GCM_ALT) against OpenSSL's EVP AES-GCM, an independent
 * implementation.  The input picks the key size, the IV length (the 96-bit
 * fast form or 1..64 bytes through GHASH), the additional data and text
 * lengths (up to 300 and 2,100 bytes: partial blocks, single blocks,
 * eight-block and 16-block groups), where the text and the additional data
 * are split across update calls, in place or not, and the path (portable,
 * AES-NI, VAES on ymm or on zmm; one the CPU lacks becomes the best it has
 * below it); the bytes themselves come from a generator seeded by the input.
 * Ciphertext and tag must equal OpenSSL's, decryption must give the
 * plaintext back, and a flipped tag bit must fail with the output wiped.
 * Any difference aborts.
 *
 * gcm_alt.c comes instrumented, with the sanitizers, from
 * build/fuzz/libbottle-fuzz.a (the sysroot archive's copy is then not
 * linked); the rest of mbedTLS comes from the sysroot, libcrypto from the
 * system (the Makefile links it for this harness).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/gcm.h>
#include <openssl/evp.h>

#define MAX_AD 300
#define MAX_TEXT 2100
#define MAX_PIECES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct generator {
	uint64_t state;
};

static uint64_t generator_next(struct generator *g)
{
	/* splitmix64: any fixed, well-mixed sequence will do. */
	uint64_t z = (g->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void generator_fill(struct generator *g, unsigned char *out, size_t length)
{
	for (size_t i = 0; i < length; i++)
		out[i] = (unsigned char)generator_next(g);
}

static void check(int condition)
{
	if (!condition)
		abort();
}

static const EVP_CIPHER *openssl_cipher(size_t key_length)
{
	return key_length == 16 ? EVP_aes_128_gcm() : key_length == 24 ? EVP_aes_192_gcm()
									 : EVP_aes_256_gcm();
}

static void openssl_encrypt(const unsigned char *key, size_t key_length, const unsigned char *iv,
			    size_t iv_length, const unsigned char *ad, size_t ad_length,
			    const unsigned char *text, size_t length, unsigned char *out,
			    unsigned char tag[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int written = 0;

	check(ctx != NULL);
	check(EVP_EncryptInit_ex(ctx, openssl_cipher(key_length), NULL, NULL, NULL) == 1);
	check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_length, NULL) == 1);
	check(EVP_EncryptInit_ex(ctx, NULL, NULL, key, iv) == 1);
	if (ad_length > 0)
		check(EVP_EncryptUpdate(ctx, NULL, &written, ad, (int)ad_length) == 1);
	if (length > 0)
		check(EVP_EncryptUpdate(ctx, out, &written, text, (int)length) == 1);
	check(EVP_EncryptFinal_ex(ctx, out + length, &written) == 1);
	check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(ctx);
}

/* Cut points: `count` sorted offsets in [0, length]. */
static void choose_cuts(struct generator *g, size_t length, size_t *cuts, size_t count)
{
	for (size_t i = 0; i < count; i++)
		cuts[i] = length == 0 ? 0 : generator_next(g) % (length + 1);
	for (size_t i = 1; i < count; i++)
		for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
			size_t swap = cuts[j];

			cuts[j] = cuts[j - 1];
			cuts[j - 1] = swap;
		}
}

/* One message through our streaming API, cut at `cuts`. */
static void ours(mbedtls_gcm_context *ctx, int mode, const unsigned char *iv, size_t iv_length,
		 const unsigned char *ad, size_t ad_length, size_t ad_cut, const unsigned char *in,
		 unsigned char *out, size_t length, const size_t *cuts, size_t cut_count,
		 unsigned char tag[16])
{
	size_t at = 0, written;

	check(mbedtls_gcm_starts(ctx, mode, iv, iv_length) == 0);
	check(mbedtls_gcm_update_ad(ctx, ad, ad_cut) == 0);
	check(mbedtls_gcm_update_ad(ctx, ad + ad_cut, ad_length - ad_cut) == 0);
	for (size_t i = 0; i <= cut_count; i++) {
		size_t end = i < cut_count ? cuts[i] : length;

		check(mbedtls_gcm_update(ctx, in + at, end - at, out + at, end - at, &written) ==
		      0);
		check(written == end - at);
		at = end;
	}
	check(mbedtls_gcm_finish(ctx, NULL, 0, &written, tag, 16) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char key[32], iv[64], ad[MAX_AD], text[MAX_TEXT], expected[MAX_TEXT + 16];
	static unsigned char out[MAX_TEXT], back[MAX_TEXT];
	unsigned char tag[16], expected_tag[16];
	size_t cuts[MAX_PIECES], ad_cut, key_length, iv_length, ad_length, length, cut_count;
	struct generator g = { 0x243f6a8885a308d3ull };
	mbedtls_gcm_context ctx;
	int path, in_place;

	if (size < 8)
		return 0;
	for (size_t i = 0; i < size; i++)
		g.state = (g.state ^ data[i]) * 0x100000001b3ull;
	key_length = 16 + 8 * (size_t)(data[0] % 3);
	path = data[0] >> 2 & 3;
	in_place = data[0] >> 4 & 1;
	while (!mbedtls_gcm_alt_path_available(path))
		path--;
	iv_length = data[1] & 0x80 ? 12 : 1 + (size_t)(data[1] & 63);
	ad_length = (size_t)(data[2] | data[3] << 8) % (MAX_AD + 1);
	length = (size_t)(data[4] | data[5] << 8) % (MAX_TEXT + 1);
	cut_count = data[6] % (MAX_PIECES + 1);
	generator_fill(&g, key, key_length);
	generator_fill(&g, iv, iv_length);
	generator_fill(&g, ad, ad_length);
	generator_fill(&g, text, length);
	choose_cuts(&g, length, cuts, cut_count);
	ad_cut = ad_length == 0 ? 0 : generator_next(&g) % (ad_length + 1);

	openssl_encrypt(key, key_length, iv, iv_length, ad, ad_length, text, length, expected,
			expected_tag);

	mbedtls_gcm_init(&ctx);
	check(mbedtls_gcm_alt_set_path(path) == 0);
	check(mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, (unsigned)key_length * 8) == 0);
	check(mbedtls_gcm_alt_set_path(MBEDTLS_GCM_ALT_BEST) == 0);
	check(mbedtls_gcm_alt_path(&ctx) == path);

	/* Encrypt, split as chosen, in place or not. */
	memcpy(out, text, length);
	ours(&ctx, MBEDTLS_GCM_ENCRYPT, iv, iv_length, ad, ad_length, ad_cut,
	     in_place ? out : text, out, length, cuts, cut_count, tag);
	check(memcmp(out, expected, length) == 0);
	check(memcmp(tag, expected_tag, 16) == 0);

	/* Decrypt with other cuts. */
	choose_cuts(&g, length, cuts, cut_count);
	memcpy(back, out, length);
	ours(&ctx, MBEDTLS_GCM_DECRYPT, iv, iv_length, ad, ad_length, ad_length - ad_cut,
	     in_place ? back : out, back, length, cuts, cut_count, tag);
	check(memcmp(back, text, length) == 0);
	check(memcmp(tag, expected_tag, 16) == 0);

	/* The one-shot calls, and a tampered tag. */
	check(mbedtls_gcm_auth_decrypt(&ctx, length, iv, iv_length, ad, ad_length, expected_tag,
				       16, expected, back) == 0);
	check(memcmp(back, text, length) == 0);
	expected_tag[generator_next(&g) % 16] ^= (unsigned char)(1 << generator_next(&g) % 8);
	memset(back, 0x5a, length);
	check(mbedtls_gcm_auth_decrypt(&ctx, length, iv, iv_length, ad, ad_length, expected_tag,
				       16, expected, back) == MBEDTLS_ERR_GCM_AUTH_FAILED);
	for (size_t i = 0; i < length; i++)
		check(back[i] == 0);
	mbedtls_gcm_free(&ctx);
	return 0;
}
