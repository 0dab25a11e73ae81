/*
 * pixpipe's bindings to libavif: plain functions of numbers and buffers, so that Rust never
 * depends on the layout of libavif's structures (they change between its versions); the C
 * compiler reads them from the installed header. See src/avif.rs.
 */
#include <avif/avif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void say(char *err, size_t len, const char *what, avifResult r, const char *detail)
{
    if (err == NULL || len == 0)
        return;
    if (detail != NULL && detail[0] != '\0')
        snprintf(err, len, "%s: %s (%s)", what, avifResultToString(r), detail);
    else
        snprintf(err, len, "%s: %s", what, avifResultToString(r));
}

/*
 * Whether the libavif this runs with is the one whose header this file was compiled against
 * (the structures' layouts are read from the header): a libavif upgraded under pixpipe is an
 * error that says to rebuild, never a misread structure.
 */
static int pixpipe_avif_same_version(char *err, size_t len)
{
    char built[32];
    snprintf(built, sizeof built, "%d.%d.%d", AVIF_VERSION_MAJOR, AVIF_VERSION_MINOR,
             AVIF_VERSION_PATCH);
    if (strcmp(built, avifVersion()) == 0)
        return 1;
    if (err != NULL && len > 0)
        snprintf(err, len, "libavif %s is installed but pixpipe was built with %s: rebuild pixpipe",
                 avifVersion(), built);
    return 0;
}

/* The versions that make the bytes: libavif's and its codecs'. */
void pixpipe_avif_versions(char *out, size_t len)
{
    char codecs[256];
    avifCodecVersions(codecs);
    snprintf(out, len, "libavif %s (%s)", avifVersion(), codecs);
}

/*
 * Encode 8-bit sRGB pixels (3 or 4 channels, rows packed) as a still AVIF: 4:2:0, full range,
 * colour signalled as sRGB (BT.709 primaries, sRGB transfer, BT.601 matrix) in nclx, libaom at
 * `speed` (its cpu-used), with libaom's `tune` (src/avif.rs's TUNE), one thread and a fixed
 * `quantizer` (0-63; the alpha plane gets `alpha_quantizer`). `exif`, if not NULL, is stored
 * as the image's Exif item. On success the file is in *out (free it with pixpipe_avif_free)
 * and 0 is returned.
 */
int pixpipe_avif_encode(const uint8_t *pixels, uint32_t width, uint32_t height,
                        uint32_t channels, int quantizer, int alpha_quantizer, int speed,
                        const char *tune, const uint8_t *exif, size_t exif_len, uint8_t **out, size_t *out_len,
                        char *err, size_t err_len)
{
    *out = NULL;
    *out_len = 0;
    if (!pixpipe_avif_same_version(err, err_len))
        return 1;
    if (channels != 3 && channels != 4) {
        snprintf(err, err_len, "cannot encode %u channels as AVIF", channels);
        return 1;
    }
    if (avifCodecName(AVIF_CODEC_CHOICE_AOM, AVIF_CODEC_FLAG_CAN_ENCODE) == NULL) {
        snprintf(err, err_len, "this libavif was built without libaom's encoder");
        return 1;
    }
    avifImage *image = avifImageCreate(width, height, 8, AVIF_PIXEL_FORMAT_YUV420);
    if (image == NULL) {
        snprintf(err, err_len, "out of memory for a %ux%u AVIF", width, height);
        return 1;
    }
    image->yuvRange = AVIF_RANGE_FULL;
    image->colorPrimaries = AVIF_COLOR_PRIMARIES_BT709;
    image->transferCharacteristics = AVIF_TRANSFER_CHARACTERISTICS_SRGB;
    image->matrixCoefficients = AVIF_MATRIX_COEFFICIENTS_BT601;

    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, image);
    rgb.depth = 8;
    rgb.format = channels == 4 ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB;
    rgb.pixels = (uint8_t *)pixels;
    rgb.rowBytes = width * channels;
    /* libavif's own conversion, not libyuv's: libyuv's version is not in the cache key, and
       its SIMD paths may round differently from one CPU to another. */
    rgb.avoidLibYUV = AVIF_TRUE;
    int status = 1;
    avifEncoder *encoder = NULL;
    avifRWData output = AVIF_DATA_EMPTY;
    avifResult r = avifImageRGBToYUV(image, &rgb);
    if (r != AVIF_RESULT_OK) {
        say(err, err_len, "AVIF colour conversion failed", r, NULL);
        goto done;
    }
    if (exif != NULL && exif_len > 0)
        avifImageSetMetadataExif(image, exif, exif_len);
    encoder = avifEncoderCreate();
    if (encoder == NULL) {
        snprintf(err, err_len, "out of memory for an AVIF encoder");
        goto done;
    }
    encoder->codecChoice = AVIF_CODEC_CHOICE_AOM;
    encoder->maxThreads = 1;
    encoder->speed = speed;
    encoder->minQuantizer = quantizer;
    encoder->maxQuantizer = quantizer;
    encoder->minQuantizerAlpha = alpha_quantizer;
    encoder->maxQuantizerAlpha = alpha_quantizer;
    /* The colour plane only, and only when lossy: libaom refuses its image tuning for a
       lossless plane (quantizer 0, as the alpha plane is above quality 90). */
    if (quantizer > 0)
        avifEncoderSetCodecSpecificOption(encoder, "color:tune", tune);
    r = avifEncoderWrite(encoder, image, &output);
    if (r != AVIF_RESULT_OK) {
        say(err, err_len, "AVIF encoding failed", r, encoder->diag.error);
        goto done;
    }
    *out = output.data;
    *out_len = output.size;
    output.data = NULL;
    output.size = 0;
    status = 0;
done:
    if (encoder != NULL)
        avifEncoderDestroy(encoder);
    avifRWDataFree(&output);
    avifImageDestroy(image);
    return status;
}

/* Free what pixpipe_avif_encode returned. */
void pixpipe_avif_free(uint8_t *data)
{
    avifRWData d = { data, 0 };
    avifRWDataFree(&d);
}

/* A decoded AVIF between pixpipe_avif_decode_open and pixpipe_avif_decode_close. */
typedef struct pixpipe_avif_decoded {
    avifDecoder *decoder;
    avifImage *image;
} pixpipe_avif_decoded;

/*
 * Decode the first image of an AVIF file of at most `max_pixels` pixels, with one thread.
 * On success *handle holds it and *width, *height, *alpha, *icc and *icc_len describe it (the
 * ICC profile, if any, lives until pixpipe_avif_decode_close); 0 is returned.
 */
int pixpipe_avif_decode_open(const uint8_t *data, size_t len, uint32_t max_pixels,
                             pixpipe_avif_decoded **handle, uint32_t *width,
                             uint32_t *height, int *alpha, const uint8_t **icc,
                             size_t *icc_len, char *err, size_t err_len)
{
    *handle = NULL;
    if (!pixpipe_avif_same_version(err, err_len))
        return 1;
    pixpipe_avif_decoded *d = calloc(1, sizeof *d);
    if (d == NULL) {
        snprintf(err, err_len, "out of memory for an AVIF decoder");
        return 1;
    }
    d->decoder = avifDecoderCreate();
    d->image = avifImageCreateEmpty();
    if (d->decoder == NULL || d->image == NULL) {
        snprintf(err, err_len, "out of memory for an AVIF decoder");
        goto fail;
    }
    d->decoder->maxThreads = 1;
    /* Sizes are judged by the caller (too-large), by pixels, as the header was. */
    d->decoder->imageDimensionLimit = 0;
    d->decoder->imageSizeLimit =
        max_pixels < AVIF_DEFAULT_IMAGE_SIZE_LIMIT ? max_pixels : AVIF_DEFAULT_IMAGE_SIZE_LIMIT;
    d->decoder->ignoreXMP = AVIF_TRUE;
    avifResult r = avifDecoderReadMemory(d->decoder, d->image, data, len);
    if (r != AVIF_RESULT_OK) {
        say(err, err_len, "AVIF decoding failed", r, d->decoder->diag.error);
        goto fail;
    }
    *width = d->image->width;
    *height = d->image->height;
    *alpha = d->image->alphaPlane != NULL;
    *icc = d->image->icc.size > 0 ? d->image->icc.data : NULL;
    *icc_len = d->image->icc.size;
    *handle = d;
    return 0;
fail:
    if (d->image != NULL)
        avifImageDestroy(d->image);
    if (d->decoder != NULL)
        avifDecoderDestroy(d->decoder);
    free(d);
    return 1;
}

/* Write the decoded pixels as 8-bit RGB or RGBA (`channels`) into `pixels` (rows packed). */
int pixpipe_avif_decode_pixels(pixpipe_avif_decoded *d, uint8_t *pixels, uint32_t channels,
                               char *err, size_t err_len)
{
    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, d->image);
    rgb.depth = 8;
    rgb.format = channels == 4 ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB;
    rgb.pixels = pixels;
    rgb.rowBytes = d->image->width * channels;
    rgb.avoidLibYUV = AVIF_TRUE;
    avifResult r = avifImageYUVToRGB(d->image, &rgb);
    if (r != AVIF_RESULT_OK) {
        say(err, err_len, "AVIF colour conversion failed", r, NULL);
        return 1;
    }
    return 0;
}

void pixpipe_avif_decode_close(pixpipe_avif_decoded *d)
{
    if (d == NULL)
        return;
    avifImageDestroy(d->image);
    avifDecoderDestroy(d->decoder);
    free(d);
}

/*
 * Read an AVIF file's header without decoding: its size, its number of frames, whether it
 * has alpha or an ICC profile, and how it is shown: `rotation` (irot's angle, quarter turns
 * anticlockwise, or -1) and `mirror` (imir's mode, or -1). Returns 0 on success.
 */
int pixpipe_avif_probe(const uint8_t *data, size_t len, uint32_t *width, uint32_t *height,
                       uint32_t *frames, int *alpha, int *icc, int *rotation, int *mirror,
                       char *err, size_t err_len)
{
    if (!pixpipe_avif_same_version(err, err_len))
        return 1;
    avifDecoder *decoder = avifDecoderCreate();
    if (decoder == NULL) {
        snprintf(err, err_len, "out of memory for an AVIF decoder");
        return 1;
    }
    decoder->ignoreXMP = AVIF_TRUE;
    decoder->ignoreExif = AVIF_TRUE;
    /* Sizes are judged by the caller (too-large); here they are only read. */
    decoder->imageDimensionLimit = 0;
    int status = 1;
    avifResult r = avifDecoderSetIOMemory(decoder, data, len);
    if (r == AVIF_RESULT_OK)
        r = avifDecoderParse(decoder);
    if (r != AVIF_RESULT_OK) {
        say(err, err_len, "its header cannot be read", r, decoder->diag.error);
        goto done;
    }
    /* The first image's data must be in the file: a cut-short upload is an error here, as a
       cut-short JPEG is, not only when it is decoded. */
    avifExtent extent;
    r = avifDecoderNthImageMaxExtent(decoder, 0, &extent);
    if (r != AVIF_RESULT_OK) {
        say(err, err_len, "its image data cannot be located", r, decoder->diag.error);
        goto done;
    }
    if (extent.offset > len || extent.size > len - extent.offset) {
        snprintf(err, err_len, "the file is cut short (%zu of %llu bytes)", len,
                 (unsigned long long)(extent.offset + extent.size));
        goto done;
    }
    const avifImage *image = decoder->image;
    *width = image->width;
    *height = image->height;
    *frames = decoder->imageCount > 0 ? (uint32_t)decoder->imageCount : 1;
    *alpha = decoder->alphaPresent ? 1 : 0;
    *icc = image->icc.size > 0 ? 1 : 0;
    *rotation = (image->transformFlags & AVIF_TRANSFORM_IROT) ? image->irot.angle : -1;
    *mirror = (image->transformFlags & AVIF_TRANSFORM_IMIR) ? image->imir.mode : -1;
    status = 0;
done:
    avifDecoderDestroy(decoder);
    return status;
}

/*
 * The ICC profile of an AVIF file, read from its header: its length is returned (0 if none
 * or unreadable), and as much of it as fits is copied into `out` (which may be NULL).
 */
size_t pixpipe_avif_icc(const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
    if (!pixpipe_avif_same_version(NULL, 0))
        return 0;
    avifDecoder *decoder = avifDecoderCreate();
    if (decoder == NULL)
        return 0;
    decoder->ignoreXMP = AVIF_TRUE;
    decoder->ignoreExif = AVIF_TRUE;
    decoder->imageDimensionLimit = 0;
    size_t size = 0;
    if (avifDecoderSetIOMemory(decoder, data, len) == AVIF_RESULT_OK &&
        avifDecoderParse(decoder) == AVIF_RESULT_OK) {
        size = decoder->image->icc.size;
        if (out != NULL && size > 0)
            memcpy(out, decoder->image->icc.data, size < cap ? size : cap);
    }
    avifDecoderDestroy(decoder);
    return size;
}
