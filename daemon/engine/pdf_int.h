/*
 * pdf_int.h: poppler's page loop (pdf.c), which runs either in the
 * scanning thread or in the helper process that pdfproc.c supervises.
 */
#ifndef VIGIL_PDF_INT_H
#define VIGIL_PDF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "scan_int.h"

#define PDF_MAX_PAGES	10000

/* What poppler made of a document; crosses the helper's socket. */
enum pdf_status {
	PDF_OK = 0,
	PDF_ENCRYPTED,
	PDF_CORRUPT,		/* msg says why */
	PDF_PAGES		/* pages past max_pages not read */
};

/* Receives each page's text in turn; nonzero stops the loop. */
typedef int (*pdf_sink)(void *arg, const char *text, size_t len);

/*
 * Opens the document at map[0..len) and hands the text of its first
 * max_pages pages to sink (none with max_pages 0: only whether it opens).
 * msg gets poppler's complaint for PDF_CORRUPT.
 */
enum pdf_status	pdf_pages(const uint8_t *map, size_t len, unsigned max_pages,
		    pdf_sink sink, void *arg, char *msg, size_t msgsz);
/* Records the problem a status means, if any, at depth. */
void		pdf_report(struct job *, unsigned depth, enum pdf_status,
		    const char *msg);

/* pdfproc.c */
struct pdf_helper;
struct tl;
/*
 * The text of the PDF spooled in fd, through *helper (started when NULL
 * or dead), into tl (NULL: only whether it opens).  Problems are
 * recorded; the return is for errors that stop the scan.
 */
enum vigil_err	pdfproc_text(struct pdf_helper **helper, struct job *,
		    unsigned depth, int fd, struct tl *tl);
/* The scanner's helper slot (scan.c). */
struct pdf_helper **scan_pdf_helper(struct job *);
/* Whether a helper program is named (eng_set_pdf_helper()). */
int		pdfproc_enabled(void);
void		pdfproc_free(struct pdf_helper *);

#endif /* VIGIL_PDF_INT_H */
