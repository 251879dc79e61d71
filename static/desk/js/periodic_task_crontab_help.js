// The periodic task form (django-celery-beat): under the crontab field's help, the chosen
// schedule in words. From a file rather than django-celery-beat's inline script, which the
// Content-Security-Policy blocks; text is set as text, never as HTML.
'use strict';
{
    const readable = JSON.parse(document.getElementById('readable-crontabs').textContent);
    const select = document.getElementById('id_crontab');
    const help = document.querySelector('.field-crontab .help');
    const translation = document.querySelector('.field-crontab_translation');
    if (translation) {
        translation.style.display = 'none';
    }
    if (select && help) {
        const original = help.textContent.trim();
        const show = function() {
            const words = readable[select.value];
            help.textContent = words ? original + ' — ' + words : original;
        };
        select.addEventListener('change', show);
        show();
    }
}
