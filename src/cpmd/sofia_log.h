/* sofia-sip's own log output (its default log and the nua, nta, tport and
 * sresolv logs) goes through cpmd's logger: same time stamp, same
 * "cpmd: LEVEL: " prefix, same escaping, one cpmd line per sofia line,
 * prefixed "sofia: " or "sofia nua: " (nta, tport, sresolv). */
#ifndef CPMD_SOFIA_LOG_H
#define CPMD_SOFIA_LOG_H

/* Call before su_init(). */
void sofia_log_redirect(void);
/* Emit what is left of a line without its newline (at exit). */
void sofia_log_flush(void);

#endif
