// SPDX-License-Identifier: MIT
/*
 * http.c - the --metrics listener of http.h. libmicrohttpd parses HTTP
 * (malformed requests are its to refuse) and runs this file's one handler
 * on its polling thread: /metrics GET or HEAD is the text, any other path
 * 404, any other method on /metrics 405 (Allow: GET, HEAD). The text comes
 * from the loop thread through a one-slot mailbox (lock + condition, cold).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "http.h"
#include "metrics.h"

#define HTTP_CONN_LIMIT		16
#define HTTP_TIMEOUT_S		10
#define HTTP_WAIT_S		2	/* for the loop's rendering */

struct pnd_http {
	struct MHD_Daemon *mhd;
	struct pnd_control *ctl;
	/* the mailbox: asked and answered count requests; text is the latest answer */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t asked, answered;
	char *text;
	size_t len;
};

void pnd_http_answer(struct pnd_http *h)
{
	char *text;
	size_t len = 0;
	uint64_t want;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	want = h->asked;
	pthread_mutex_unlock(&h->lock);
	if (want == h->answered)	/* answered is written by this thread only */
		return;
	text = pnd_metrics_render(h->ctl, NULL, &len);
	pthread_mutex_lock(&h->lock);
	free(h->text);
	h->text = text;
	h->len = len;
	h->answered = want;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* The HTTP thread: asks the loop for the text; NULL when it did not answer in time. */
static char *ask_loop(struct pnd_http *h, size_t *len)
{
	struct timespec until;
	char *text = NULL;
	uint64_t mine;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += HTTP_WAIT_S;
	pthread_mutex_lock(&h->lock);
	mine = ++h->asked;
	pthread_mutex_unlock(&h->lock);
	h->ctl->io->notify(h->ctl->io->arg);
	pthread_mutex_lock(&h->lock);
	while (h->answered < mine)
		if (pthread_cond_timedwait(&h->cond, &h->lock, &until) == ETIMEDOUT)
			break;
	if (h->answered >= mine) {
		text = h->text;
		*len = h->len;
		h->text = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	return text;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *body,
			     const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ok;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ok = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct pnd_http *h = cls;
	struct MHD_Response *r;
	enum MHD_Result ok;
	size_t len = 0;
	char *text;

	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n",
			     NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			     "method not allowed: GET or HEAD /metrics\n", "GET, HEAD");
	text = ask_loop(h, &len);
	if (!text)
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			     "polynetd did not render the metrics in time (stopping?)\n", NULL);
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ok;
}

/* "ADDR:PORT" or "[ADDR6]:PORT" to a socket address; 0 or -EINVAL. */
static int parse_spec(const char *spec, struct sockaddr_storage *sa, bool *v6, struct pn_err *e)
{
	char host[64];
	const char *colon = strrchr(spec, ':'), *h0 = spec;
	size_t hl;
	char *end;
	unsigned long port;

	if (!colon || colon == spec)
		return pn_errf(e, -EINVAL, "--metrics %s: expected ADDR:PORT (127.0.0.1:9464)", spec);
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && colon[-1] == ']') {
		h0++;
		hl -= 2;
	}
	port = strtoul(colon + 1, &end, 10);
	if (hl >= sizeof(host) || !colon[1] || *end || port > 65535)
		return pn_errf(e, -EINVAL, "--metrics %s: expected ADDR:PORT with a numeric "
			       "address and a port 0..65535", spec);
	memcpy(host, h0, hl);
	host[hl] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)sa)->sin_addr) == 1) {
		((struct sockaddr_in *)sa)->sin_family = AF_INET;
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
		*v6 = false;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)sa)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)sa)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
		*v6 = true;
	} else {
		return pn_errf(e, -EINVAL, "--metrics: '%s' is not a numeric IPv4 or IPv6 address",
			       host);
	}
	return 0;
}

int pnd_http_start(const char *spec, struct pnd_control *ctl, struct pnd_http **out,
		   uint16_t *port, struct pn_err *e)
{
	struct sockaddr_storage sa;
	const union MHD_DaemonInfo *info;
	struct pnd_http *h;
	bool v6 = false;
	int r = parse_spec(spec, &sa, &v6, e);

	*out = NULL;
	if (r)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return pn_errf(e, -ENOMEM, "--metrics: out of memory");
	h->ctl = ctl;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
				  (v6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, on_request, h,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONN_LIMIT,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!h->mhd) {
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return pn_errf(e, -EADDRNOTAVAIL, "--metrics %s: libmicrohttpd could not listen "
			       "there (address in use, or not this host's)", spec);
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	*out = h;
	return 0;
}

void pnd_http_stop(struct pnd_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	free(h->text);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
